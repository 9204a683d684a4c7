/**
 * Service configuration declared once (Node only). A service lists its options — name, env variable
 * (`PREFIX_…`), command-line flag (never for secrets), description, default, validator — and
 * {@link loadOptions} reads flags, the process env and an env file, validates everything and reports
 * every wrong or missing value at once. The provider agent, the consumer agent and the keeper all use
 * it, so their options, messages, `--help` and `.env.example` behave alike.
 *
 * Secrets (keys, passwords, API keys) are read from the environment or files only: a secret flag, or
 * any argument that looks like a private key, is refused without being echoed.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { getAddress, isAddress } from "viem";

/** A validator: returns the parsed value, or throws {@link InvalidValue} with what is wrong. */
export type Parser<T = unknown> = (raw: string) => T;

export type OptionSpec<K extends string = string> = {
  key: K;
  env: string;
  /** Command-line flag; absent for secrets. */
  flag?: string;
  description: string;
  /** Default as text (what .env.example and --help show); undefined = no default (optional or derived). */
  default?: string;
  /** How the default is derived when it depends on other values. */
  derived?: string;
  secret?: boolean;
  parse: Parser;
};

export class InvalidValue extends Error {}

export const fail = (message: string): never => {
  throw new InvalidValue(message);
};

/** The validators every service shares. */
export const parsers = {
  str: (raw: string) => raw,
  nonEmpty: (max = 1024) => (raw: string) => {
    if (raw.length === 0) fail("must not be empty");
    if (Buffer.byteLength(raw) > max) fail(`must be at most ${max} bytes`);
    return raw;
  },
  int: (min: number, max: number) => (raw: string) => {
    if (!/^-?\d+$/.test(raw.trim())) fail(`must be an integer between ${min} and ${max}`);
    const n = Number(raw.trim());
    if (!Number.isSafeInteger(n) || n < min || n > max) fail(`must be an integer between ${min} and ${max}`);
    return n;
  },
  num: (min: number, max: number) => (raw: string) => {
    const n = Number(raw.trim());
    if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) fail(`must be a number between ${min} and ${max}`);
    return n;
  },
  uint: (min: bigint, max: bigint) => (raw: string) => {
    if (!/^\d+$/.test(raw.trim())) fail("must be a whole number of the asset's smallest unit (digits only, e.g. 1000000)");
    const n = BigInt(raw.trim());
    if (n < min || n > max) fail(`must be between ${min} and ${max}`);
    return n;
  },
  bool: (raw: string) => {
    const v = raw.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off"].includes(v)) return false;
    return fail("must be true or false");
  },
  oneOf: <T extends string>(...values: T[]) => (raw: string) => {
    if (!(values as string[]).includes(raw.trim())) fail(`must be one of ${values.join(", ")}`);
    return raw.trim() as T;
  },
  url: (protocols: string[]) => (raw: string) => {
    let u: URL;
    try {
      u = new URL(raw.trim());
    } catch {
      return fail(`must be a URL (e.g. ${protocols[0]}//127.0.0.1:8545)`);
    }
    if (!protocols.includes(u.protocol)) fail(`must be a ${protocols.join(" or ")} URL`);
    return raw.trim().replace(/\/+$/, "");
  },
  address: (raw: string) => {
    if (!isAddress(raw.trim(), { strict: false })) fail("must be a 0x-prefixed 20-byte address");
    return getAddress(raw.trim());
  },
  /** "native", a contract name of the deployment file (e.g. TestUSD), or an ERC-20 address. */
  asset: (raw: string) => {
    const v = raw.trim();
    if (v === "native" || /^[A-Za-z][A-Za-z0-9_]*$/.test(v)) return v;
    if (isAddress(v, { strict: false })) return getAddress(v);
    return fail('must be "native", a contract name from the deployment file (e.g. TestUSD), or an ERC-20 address');
  },
  privateKey: (raw: string) => {
    const v = raw.trim();
    if (!/^(0x)?[0-9a-fA-F]{64}$/.test(v)) fail("must be a 32-byte hex private key (0x followed by 64 hex digits)");
    return v.startsWith("0x") ? v : `0x${v}`;
  },
};

export const MAX_UINT256 = (1n << 256n) - 1n;

export class ConfigError extends Error {
  constructor(readonly problems: string[], help = "Run with --help for every option.") {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}\n${help}`);
  }
}

/** Whether a file's mode lets group or others read it. */
export function readableByOthers(path: string): boolean {
  try {
    return (statSync(path).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

/** Minimal dotenv: KEY=VALUE lines, `#` comments, optional `export `, single or double quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    out[m[1]] = value;
  }
  return out;
}

/** Whether a command-line argument is (or carries, as `--x=…`) something shaped like a private key. */
export function looksLikePrivateKey(arg: string): boolean {
  return /^(0x)?[0-9a-fA-F]{64}$/.test(arg.replace(/^--?[\w-]+=/, ""));
}

export type LoadOptionsParameters = {
  /** Env prefix without the underscore, e.g. "PROVIDER": names the env file variable and key hints. */
  prefix: string;
  options: OptionSpec[];
  /** Flags that name a secret, mapped to where the secret belongs: always refused, never echoed. */
  secretFlags: Record<string, string>;
  /** Flags without a value that select a command (e.g. {"--help": "help", "-h": "help"}). */
  commandFlags?: Record<string, string>;
  /** Keep non-flag arguments as positionals (a CLI's subcommand and its operands); else each is a problem. */
  positionals?: boolean;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
};

export type LoadedOptions = {
  values: Record<string, unknown>;
  /** The raw text of an option as given (flag > env > env file), undefined when unset. */
  raw: (key: string) => string | undefined;
  positionals: string[];
  command: string | undefined;
  problems: string[];
  warnings: string[];
  envFile: string | undefined;
};

/**
 * Reads and validates options. Precedence: flag > process env > env file (`--env-file`,
 * `<PREFIX>_ENV_FILE`, or `./.env` when present) > default. Returns the problems instead of throwing,
 * so a service can add its cross-field rules before reporting everything at once.
 */
export function loadOptions(p: LoadOptionsParameters): LoadedOptions {
  const { prefix, options, argv, env, cwd } = p;
  const problems: string[] = [];
  const warnings: string[] = [];
  const positionals: string[] = [];
  let command: string | undefined;

  // 1. Flags. A secret is never accepted here: refuse, without echoing it.
  const flagValues = new Map<string, string>();
  let envFileFlag: string | undefined;
  argv.forEach((arg, i) => {
    if (looksLikePrivateKey(arg)) {
      problems.push(`argument #${i + 1} looks like a private key: refusing it. Command-line arguments are visible to every user of this machine (ps, shell history). Put the key in ${prefix}_PRIVATE_KEY (env or an env file readable only by you) or in an encrypted keystore (${prefix}_KEYSTORE).`);
    }
  });
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (looksLikePrivateKey(arg)) continue;
    if (p.commandFlags?.[arg]) {
      command = p.commandFlags[arg];
      continue;
    }
    if (!arg.startsWith("--")) {
      if (p.positionals) positionals.push(arg);
      else problems.push(`unexpected argument "${arg.slice(0, 40)}" (options are --name value or --name=value)`);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = (eq >= 0 ? arg.slice(0, eq) : arg).toLowerCase();
    const hasInline = eq >= 0;
    const takeValue = (): string | undefined => {
      if (hasInline) return arg.slice(eq + 1);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) return undefined;
      i++;
      return next;
    };
    if (p.secretFlags[name]) {
      if (!hasInline && argv[i + 1] !== undefined && !argv[i + 1].startsWith("--")) i++; // skip the secret, never print it
      problems.push(`${name} is refused: secrets are never read from the command line (visible in ps and shell history). Use ${p.secretFlags[name]}.`);
      continue;
    }
    if (name === "--env-file") {
      const v = takeValue();
      if (v === undefined) problems.push("--env-file needs a path");
      else envFileFlag = v;
      continue;
    }
    const spec = options.find((o) => o.flag === name);
    if (!spec) {
      problems.push(`unknown option ${name}`);
      continue;
    }
    const v = takeValue();
    if (v === undefined) problems.push(`${name} needs a value`);
    else flagValues.set(spec.env, v);
  }

  // 2. Env file. It never overrides the process env.
  const secretEnvs = new Set(options.filter((o) => o.secret).map((o) => o.env));
  const envFilePath = envFileFlag ?? env[`${prefix}_ENV_FILE`] ?? (existsSync(resolve(cwd, ".env")) ? ".env" : undefined);
  let fileValues: Record<string, string> = {};
  let envFile: string | undefined;
  if (envFilePath) {
    envFile = resolve(cwd, envFilePath);
    try {
      fileValues = parseEnvFile(readFileSync(envFile, "utf8"));
      const holdsSecret = Object.keys(fileValues).some((k) => secretEnvs.has(k) && fileValues[k] !== "");
      if (holdsSecret && readableByOthers(envFile)) {
        warnings.push(`${envFile} holds a secret and is readable by group/others: run \`chmod 600 ${envFile}\`.`);
      }
    } catch (error) {
      problems.push(`env file ${envFile} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }

  const rawOf = (spec: OptionSpec): string | undefined => {
    const v = flagValues.get(spec.env) ?? env[spec.env] ?? fileValues[spec.env];
    return v === undefined || v === "" ? undefined : v;
  };

  const values: Record<string, unknown> = {};
  for (const spec of options) {
    const text = rawOf(spec) ?? spec.default;
    if (text === undefined) {
      values[spec.key] = undefined;
      continue;
    }
    try {
      values[spec.key] = spec.parse(text);
    } catch (error) {
      if (!(error instanceof InvalidValue)) throw error;
      const where = spec.flag ? `${spec.env} (${spec.flag})` : spec.env;
      // Secrets are never echoed; other values are, truncated.
      const shown = spec.secret ? "" : `, got "${text.length > 80 ? `${text.slice(0, 80)}…` : text}"`;
      problems.push(`${where}: ${error.message}${shown}`);
    }
  }
  const raw = (key: string) => {
    const spec = options.find((o) => o.key === key);
    return spec ? rawOf(spec) : undefined;
  };
  return { values, raw, positionals, command, problems, warnings, envFile };
}

/** --help text: every option with its env variable, flag, default and description. */
export function optionsHelp(options: OptionSpec[]): string {
  const lines: string[] = [];
  for (const o of options) {
    const def = o.default !== undefined ? `default ${o.default}` : o.derived ? `default: ${o.derived}` : "optional";
    lines.push(`  ${o.env}${o.flag ? ` / ${o.flag}` : " (env only)"}  [${def}]`);
    lines.push(`      ${o.description}`);
  }
  return lines.join("\n");
}

/** A .env.example text generated from the options, so it can never drift from them. */
export function envExampleOf(options: OptionSpec[], header: string[]): string {
  const lines = [...header, ""];
  for (const o of options) {
    lines.push(`# ${o.description}`);
    if (o.derived) lines.push(`# Default: ${o.derived}.`);
    if (o.secret) lines.push("# SECRET: env only; never pass it as a flag, never commit this file.");
    lines.push(`${o.default !== undefined ? "" : "# "}${o.env}=${o.default ?? ""}`);
    lines.push("");
  }
  return lines.join("\n");
}

/** A Markdown table of the options (for READMEs). */
export function optionsTable(options: OptionSpec[]): string {
  const rows = ["| Env variable | Flag | Default | Meaning |", "| --- | --- | --- | --- |"];
  for (const o of options) {
    const def = o.default !== undefined ? `\`${o.default}\`` : o.derived ?? "—";
    rows.push(`| \`${o.env}\` | ${o.flag ? `\`${o.flag}\`` : "env only"} | ${def} | ${o.description.replace(/\|/g, "\\|")} |`);
  }
  return rows.join("\n");
}
