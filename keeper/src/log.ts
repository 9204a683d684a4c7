import pino, { type Logger } from "pino";
import type { LogLevel } from "./config.ts";

/** JSON logs on stdout; anything that could hold a key or password is redacted. */
export function createKeeperLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: "keeper", pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["privateKey", "*.privateKey", "password", "*.password"], censor: "[redacted]" },
  });
}
