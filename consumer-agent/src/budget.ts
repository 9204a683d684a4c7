/**
 * The budget of one ask or chat session, in the payment asset's smallest unit. At every moment
 *
 *   escrowed (deposits and top-ups of its streams still open) + paid (what its closed streams paid) ≤ limit
 *
 * so the consumer never has more at stake than the budget: a deposit or top-up that would break it is not
 * sent. A closed stream's refund frees its share again (a failed provider's stream is cancelled and the
 * refund can fund the next provider's).
 */
export class BudgetExceeded extends Error {}

export class Budget {
  private escrowed = 0n;
  private paid = 0n;

  constructor(readonly limit: bigint) {}

  /** What may still be deposited. */
  get available(): bigint {
    const left = this.limit - this.escrowed - this.paid;
    return left > 0n ? left : 0n;
  }

  get spent(): bigint {
    return this.paid;
  }

  get atStake(): bigint {
    return this.escrowed + this.paid;
  }

  /** Books a deposit or top-up before it is sent; throws {@link BudgetExceeded} if it does not fit. */
  reserve(amount: bigint): void {
    if (amount > this.available) throw new BudgetExceeded(`a deposit of ${amount} does not fit in the budget (${this.available} of ${this.limit} left)`);
    this.escrowed += amount;
  }

  /** Undoes a reservation whose transaction was not mined. */
  release(amount: bigint): void {
    this.escrowed -= amount;
  }

  /** A stream that escrowed `deposited` closed having paid `paidAmount`; the rest came back. */
  settle(deposited: bigint, paidAmount: bigint): void {
    this.escrowed -= deposited;
    this.paid += paidAmount;
  }
}

export type SizeDepositParameters = {
  pricePerSecond: bigint;
  /** Serving time the stream should buy, in seconds. */
  expectedSeconds: number;
  /** The provider's minimum deposit (from its 402 / GET /v1/payment). */
  minDeposit: bigint;
  available: bigint;
};

/**
 * The deposit for a new stream: price × expected seconds, at least the provider's minimum, at most what
 * the budget allows — always a whole number of seconds (no dust). Undefined when even the minimum does
 * not fit.
 */
export function sizeDeposit(p: SizeDepositParameters): bigint | undefined {
  const price = p.pricePerSecond;
  const roundUp = (x: bigint) => ((x + price - 1n) / price) * price;
  let deposit = price * BigInt(Math.max(1, Math.ceil(p.expectedSeconds)));
  const minimum = roundUp(p.minDeposit > price * 2n ? p.minDeposit : price * 2n);
  if (deposit < minimum) deposit = minimum;
  const cap = (p.available / price) * price;
  if (deposit > cap) deposit = cap;
  return deposit >= minimum ? deposit : undefined;
}
