/** Ethereum v3 keystores: moved to the SDK (`@clawcompute/sdk/node`), shared by every agent. */
export { type KeystoreV3, KeystoreError, decryptKeystore, encryptKeystore, readKeystore } from "@clawcompute/sdk/node";
