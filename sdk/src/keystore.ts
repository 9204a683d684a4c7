/**
 * Ethereum v3 keystore files (the format of geth, Foundry's `cast wallet`, MetaMask exports):
 * scrypt or pbkdf2 key derivation, aes-128-ctr, keccak256 MAC. Decrypts with Node's own crypto.
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes, randomUUID, scryptSync, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { type Hex, bytesToHex, hexToBytes, keccak256 } from "viem";
import { privateKeyToAddress } from "viem/accounts";

type KdfParams = {
  dklen: number;
  salt: string;
  n?: number;
  r?: number;
  p?: number;
  c?: number;
  prf?: string;
};

export type KeystoreV3 = {
  version: 3;
  id?: string;
  address?: string;
  crypto: {
    cipher: string;
    ciphertext: string;
    cipherparams: { iv: string };
    kdf: "scrypt" | "pbkdf2";
    kdfparams: KdfParams;
    mac: string;
  };
};

export class KeystoreError extends Error {}

const strip0x = (s: string) => (s.startsWith("0x") ? s.slice(2) : s);

function deriveKey(kdf: string, params: KdfParams, password: string): Buffer {
  const salt = Buffer.from(strip0x(params.salt), "hex");
  if (kdf === "scrypt") {
    const { n, r, p, dklen } = params;
    if (!n || !r || !p) throw new KeystoreError("keystore: scrypt parameters n, r, p missing");
    return scryptSync(Buffer.from(password.normalize("NFKC")), salt, dklen, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 });
  }
  if (kdf === "pbkdf2") {
    if (params.prf && params.prf !== "hmac-sha256") throw new KeystoreError(`keystore: unsupported pbkdf2 prf ${params.prf}`);
    if (!params.c) throw new KeystoreError("keystore: pbkdf2 iteration count c missing");
    return pbkdf2Sync(Buffer.from(password.normalize("NFKC")), salt, params.c, params.dklen, "sha256");
  }
  throw new KeystoreError(`keystore: unsupported kdf ${kdf}`);
}

/** Decrypts a v3 keystore (JSON text or parsed) and returns the private key. Wrong password → KeystoreError. */
export function decryptKeystore(json: string | KeystoreV3, password: string): Hex {
  let ks: KeystoreV3;
  try {
    ks = typeof json === "string" ? (JSON.parse(json) as KeystoreV3) : json;
  } catch {
    throw new KeystoreError("keystore: not valid JSON");
  }
  const c = ks?.crypto ?? (ks as unknown as { Crypto?: KeystoreV3["crypto"] })?.Crypto;
  if (ks?.version !== 3 || !c) throw new KeystoreError("keystore: not a version 3 keystore");
  if (c.cipher !== "aes-128-ctr") throw new KeystoreError(`keystore: unsupported cipher ${c.cipher}`);
  const derived = deriveKey(c.kdf, c.kdfparams, password);
  const ciphertext = Buffer.from(strip0x(c.ciphertext), "hex");
  const mac = hexToBytes(keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext])));
  const expected = Buffer.from(strip0x(c.mac), "hex");
  if (expected.length !== mac.length || !timingSafeEqual(Buffer.from(mac), expected)) {
    throw new KeystoreError("keystore: wrong password (MAC mismatch)");
  }
  const decipher = createDecipheriv("aes-128-ctr", derived.subarray(0, 16), Buffer.from(strip0x(c.cipherparams.iv), "hex"));
  const key = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  if (key.length !== 32) throw new KeystoreError("keystore: decrypted key is not 32 bytes");
  const privateKey = bytesToHex(key);
  if (ks.address && privateKeyToAddress(privateKey).toLowerCase().slice(2) !== strip0x(ks.address).toLowerCase()) {
    throw new KeystoreError("keystore: decrypted key does not match the address in the file");
  }
  return privateKey;
}

export function readKeystore(path: string, password: string): Hex {
  return decryptKeystore(readFileSync(path, "utf8"), password);
}

/** Encrypts a private key into a v3 keystore (scrypt; n = 2^17 by default, lower only for tests). */
export function encryptKeystore(privateKey: Hex, password: string, options: { n?: number } = {}): KeystoreV3 {
  const n = options.n ?? 131072;
  const r = 8;
  const p = 1;
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const derived = scryptSync(Buffer.from(password.normalize("NFKC")), salt, 32, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 });
  const cipher = createCipheriv("aes-128-ctr", derived.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(hexToBytes(privateKey))), cipher.final()]);
  const mac = keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext]));
  return {
    version: 3,
    id: randomUUID(),
    address: privateKeyToAddress(privateKey).toLowerCase().slice(2),
    crypto: {
      cipher: "aes-128-ctr",
      ciphertext: ciphertext.toString("hex"),
      cipherparams: { iv: iv.toString("hex") },
      kdf: "scrypt",
      kdfparams: { dklen: 32, salt: salt.toString("hex"), n, r, p },
      mac: strip0x(mac),
    },
  };
}
