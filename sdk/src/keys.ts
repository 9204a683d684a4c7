/**
 * Signing keys of the long-running services and CLIs (provider agent, consumer agent, keeper), Node only.
 * A key comes from `<PREFIX>_PRIVATE_KEY` in the environment (or an env file only its owner can read), or
 * from an encrypted Ethereum v3 keystore (`<PREFIX>_KEYSTORE` + `<PREFIX>_KEYSTORE_PASSWORD` or
 * `<PREFIX>_KEYSTORE_PASSWORD_FILE`) — never from a command-line argument. Nothing here logs, prints or
 * returns the key except {@link readPrivateKey}, whose caller keeps it inside a signer.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Hex, LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type OptionSpec, parsers, readableByOthers } from "./config.ts";
import { readKeystore } from "./keystore.ts";

/** Where a key comes from: the parsed values of the key options. */
export type KeySource = {
  privateKey?: string;
  keystore?: string;
  keystorePassword?: string;
  keystorePasswordFile?: string;
};

/** The four key options of a service, named after its env prefix (e.g. "CONSUMER"). */
export function keyOptions(prefix: string, who: string): OptionSpec<"privateKey" | "keystore" | "keystorePassword" | "keystorePasswordFile">[] {
  return [
    { key: "privateKey", env: `${prefix}_PRIVATE_KEY`, secret: true, parse: parsers.privateKey,
      description: `${who} private key (0x + 64 hex). Env only, never a flag. Or use ${prefix}_KEYSTORE.` },
    { key: "keystore", env: `${prefix}_KEYSTORE`, flag: "--keystore", parse: parsers.nonEmpty(),
      description: `Path to an encrypted Ethereum v3 keystore JSON holding the key (instead of ${prefix}_PRIVATE_KEY).` },
    { key: "keystorePassword", env: `${prefix}_KEYSTORE_PASSWORD`, secret: true, parse: parsers.str,
      description: `Password of the keystore. Env only; or ${prefix}_KEYSTORE_PASSWORD_FILE.` },
    { key: "keystorePasswordFile", env: `${prefix}_KEYSTORE_PASSWORD_FILE`, flag: "--keystore-password-file", parse: parsers.nonEmpty(),
      description: "File holding the keystore password (first line)." },
  ];
}

/** Secret flags every service refuses, with where the secret belongs instead. */
export function keySecretFlags(prefix: string): Record<string, string> {
  return {
    "--private-key": `${prefix}_PRIVATE_KEY`,
    "--privatekey": `${prefix}_PRIVATE_KEY`,
    "--key": `${prefix}_PRIVATE_KEY`,
    "--mnemonic": `${prefix}_KEYSTORE`,
    "--keystore-password": `${prefix}_KEYSTORE_PASSWORD or --keystore-password-file`,
    "--password": `${prefix}_KEYSTORE_PASSWORD or --keystore-password-file`,
  };
}

export type CheckKeySourceParameters = {
  prefix: string;
  /** Whether a private key was given at all (even an invalid one, already reported by its parser). */
  hasKey: boolean;
  source: KeySource;
  cwd: string;
  /** A key is required (false: optional, e.g. for read-only commands). */
  required?: boolean;
};

/**
 * Cross-field rules of the key options: exactly one source; a keystore needs a password; files exist; a
 * file readable by others is a warning. Resolves the keystore and password-file paths against `cwd`.
 */
export function checkKeySource(p: CheckKeySourceParameters): { problems: string[]; warnings: string[]; source: KeySource } {
  const { prefix, cwd } = p;
  const problems: string[] = [];
  const warnings: string[] = [];
  const source = { ...p.source };
  if (p.hasKey && source.keystore) problems.push(`${prefix}_PRIVATE_KEY and ${prefix}_KEYSTORE are both set: use one.`);
  if (!p.hasKey && !source.keystore && p.required !== false) {
    problems.push(`no signing key: set ${prefix}_PRIVATE_KEY (env, or an env file only you can read) or ${prefix}_KEYSTORE (an encrypted v3 keystore) with ${prefix}_KEYSTORE_PASSWORD or ${prefix}_KEYSTORE_PASSWORD_FILE.`);
  }
  if (source.keystore) {
    source.keystore = resolve(cwd, source.keystore);
    if (!existsSync(source.keystore)) problems.push(`${prefix}_KEYSTORE (--keystore): file ${source.keystore} does not exist`);
    else if (readableByOthers(source.keystore)) warnings.push(`keystore ${source.keystore} is readable by group/others: run \`chmod 600 ${source.keystore}\`.`);
    if (source.keystorePassword === undefined && !source.keystorePasswordFile) {
      problems.push(`${prefix}_KEYSTORE is set but no password: set ${prefix}_KEYSTORE_PASSWORD or ${prefix}_KEYSTORE_PASSWORD_FILE.`);
    }
  }
  if (source.keystorePasswordFile) {
    source.keystorePasswordFile = resolve(cwd, source.keystorePasswordFile);
    if (!existsSync(source.keystorePasswordFile)) problems.push(`${prefix}_KEYSTORE_PASSWORD_FILE: file ${source.keystorePasswordFile} does not exist`);
    else if (readableByOthers(source.keystorePasswordFile)) warnings.push(`password file ${source.keystorePasswordFile} is readable by group/others: run \`chmod 600 ${source.keystorePasswordFile}\`.`);
  }
  return { problems, warnings, source };
}

/**
 * The private key from its source: the env value, or the keystore decrypted with its password (from the
 * env or the first line of the password file). Throws when no source is configured or decryption fails.
 * Keep the result inside a signer; never log it.
 */
export function readPrivateKey(source: KeySource): Hex {
  if (source.privateKey) return (source.privateKey.startsWith("0x") ? source.privateKey : `0x${source.privateKey}`) as Hex;
  if (source.keystore) {
    const password = source.keystorePassword ?? (source.keystorePasswordFile ? readFileSync(source.keystorePasswordFile, "utf8").split(/\r?\n/)[0] : undefined);
    if (password === undefined) throw new Error("keystore configured without a password");
    return readKeystore(source.keystore, password);
  }
  throw new Error("no signing key configured");
}

/** A viem account for the configured key (the key stays inside the account). */
export function loadAccount(source: KeySource): LocalAccount {
  return privateKeyToAccount(readPrivateKey(source));
}
