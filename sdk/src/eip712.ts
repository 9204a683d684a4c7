/**
 * EIP-712 messages of the paid-inference protocol (DESIGN §3). One domain for all of them:
 * { name: "StreamPay", version: "1", chainId, verifyingContract: StreamPay }.
 *
 * - Request:    the stream's sender (or a session key) signs each HTTP request.
 * - SessionKey: the sender authorises a key once, so a browser signs once per session, not per message.
 * - Receipt:    the provider signs cumulative usage; a `final` one closes the stream on-chain.
 */
import {
  type Account,
  type Address,
  type Hex,
  type TypedDataDomain,
  hashStruct,
  hashTypedData,
  keccak256,
  zeroHash,
  recoverTypedDataAddress,
  toBytes,
} from "viem";

export const EIP712_NAME = "StreamPay";
export const EIP712_VERSION = "1";

export const paymentTypes = {
  Spend: [
    { name: "streamId", type: "uint256" },
    { name: "cumulative", type: "uint256" },
    { name: "request", type: "Request" },
  ],
  Request: [
    { name: "bodyHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "expiry", type: "uint256" },
  ],
  SessionKey: [
    { name: "streamId", type: "uint256" },
    { name: "key", type: "address" },
    { name: "expiry", type: "uint256" },
  ],
  Receipt: [
    { name: "streamId", type: "uint256" },
    { name: "amount", type: "uint256" },
    { name: "final", type: "bool" },
  ],
} as const;

/** What a voucher was sent with: the HTTP request's body hash, nonce and expiry (unix seconds). */
export type RequestMessage = { bodyHash: Hex; nonce: bigint; expiry: bigint };
export type SpendMessage = { streamId: bigint; cumulative: bigint; request: RequestMessage };
export type SessionKeyMessage = { streamId: bigint; key: Address; expiry: bigint };
export type ReceiptMessage = { streamId: bigint; amount: bigint; final: boolean };

/** The Request of a voucher sent on its own, not with an HTTP request. */
export const NO_REQUEST: RequestMessage = { bodyHash: zeroHash, nonce: 0n, expiry: 0n };

export type PaymentDomainParameters = { chainId: number; streamPay: Address };

export function paymentDomain({ chainId, streamPay }: PaymentDomainParameters): TypedDataDomain {
  return { name: EIP712_NAME, version: EIP712_VERSION, chainId, verifyingContract: streamPay };
}

/** keccak256 of the exact request body bytes (a string is taken as UTF-8). */
export function hashBody(body: string | Uint8Array): Hex {
  return keccak256(typeof body === "string" ? toBytes(body) : body);
}

type Signer = Pick<Account, "address"> & { signTypedData: NonNullable<Account["signTypedData"]> };

export function signSpend(signer: Signer, domain: PaymentDomainParameters, message: SpendMessage): Promise<Hex> {
  return signer.signTypedData({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "Spend", message });
}

export function signSessionKey(signer: Signer, domain: PaymentDomainParameters, message: SessionKeyMessage): Promise<Hex> {
  return signer.signTypedData({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "SessionKey", message });
}

export function signReceipt(signer: Signer, domain: PaymentDomainParameters, message: ReceiptMessage): Promise<Hex> {
  return signer.signTypedData({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "Receipt", message });
}

/** The EIP-712 digest StreamPay verifies for a receipt (equals `StreamPay.hashReceipt`). */
export function receiptDigest(domain: PaymentDomainParameters, message: ReceiptMessage): Hex {
  return hashTypedData({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "Receipt", message });
}

/** The EIP-712 hashStruct of a Request: what StreamPay takes as `Voucher.request`. */
export function hashRequest(request: RequestMessage): Hex {
  return hashStruct({ data: request, primaryType: "Request", types: paymentTypes });
}

/** The EIP-712 digest StreamPay verifies for a voucher (equals `StreamPay.hashSpend`). */
export function spendDigest(domain: PaymentDomainParameters, message: SpendMessage): Hex {
  return hashTypedData({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "Spend", message });
}

/** The EIP-712 digest StreamPay verifies for a session-key authorisation (equals `StreamPay.hashSessionKey`). */
export function sessionKeyDigest(domain: PaymentDomainParameters, message: SessionKeyMessage): Hex {
  return hashTypedData({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "SessionKey", message });
}

/** Recovers the EOA that signed a voucher. (Contract wallets sign requests through session keys.) */
export function recoverSpendSigner(domain: PaymentDomainParameters, message: SpendMessage, signature: Hex): Promise<Address> {
  return recoverTypedDataAddress({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "Spend", message, signature });
}

export function recoverSessionKeySigner(domain: PaymentDomainParameters, message: SessionKeyMessage, signature: Hex): Promise<Address> {
  return recoverTypedDataAddress({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "SessionKey", message, signature });
}

export function recoverReceiptSigner(domain: PaymentDomainParameters, message: ReceiptMessage, signature: Hex): Promise<Address> {
  return recoverTypedDataAddress({ domain: paymentDomain(domain), types: paymentTypes, primaryType: "Receipt", message, signature });
}
