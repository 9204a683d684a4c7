/**
 * Nominations from the indexer: streams whose query-time state (`streamViews.status`) says they are due —
 * `abandoned` (open at or past stopTime + grace period) and, when the keeper finalises cancels,
 * `challenge_expired` (cancelling at or past endTime + challenge window). The indexer only nominates:
 * the keeper re-reads every nominee on-chain before it spends gas on it.
 */

/**
 * The field of `streamViews` that holds the state as of query time (open | depleted | abandoned | cancelling |
 * challenge_expired | settled | cancelled | closed); the stored lifecycle is `storedStatus` there and
 * `status` on `stream`.
 */
export const STATE_FIELD = "status";

/** The indexer's query-time states the keeper acts on. */
export const DUE_STATES = { abandoned: "abandoned", cancel: "challenge_expired" } as const;

/** Items per page (the indexer's GraphQL limit is 1000). Views have no cursors: pages go by id. */
export const PAGE_SIZE = 1000;

export type Nomination = {
  id: bigint;
  state: string;
  /** When the indexer says the stream became due (abandonedAt or challengeEndsAt), if it said. */
  dueAt: bigint | undefined;
};

export function dueStreamsQuery(states: string[]): string {
  const list = states.map((s) => JSON.stringify(s)).join(", ");
  return `query DueStreams($after: BigInt!) {
  streamViews(
    where: { ${STATE_FIELD}_in: [${list}], id_gt: $after }, orderBy: "id", orderDirection: "asc", limit: ${PAGE_SIZE}
  ) {
    items { id ${STATE_FIELD} abandonedAt challengeEndsAt endTime }
  }
}`;
}

type Item = {
  id: string;
  [STATE_FIELD]: string;
  abandonedAt?: string | null;
  challengeEndsAt?: string | null;
  endTime?: string | null;
};

export class IndexerError extends Error {}

const big = (v: string | null | undefined): bigint | undefined => {
  if (v === null || v === undefined || !/^\d+$/.test(String(v))) return undefined;
  return BigInt(v);
};

export type QueryDueStreamsParameters = {
  indexerUrl: string;
  states: string[];
  timeoutMs: number;
  /** StreamPay's challenge window (seconds), for a cancel the indexer gives only an endTime for. */
  challengeWindow: bigint;
  fetch?: typeof fetch;
};

/** Every stream the indexer says is in one of `states`, in id order. Throws {@link IndexerError}. */
export async function queryDueStreams(p: QueryDueStreamsParameters): Promise<Nomination[]> {
  const doFetch = p.fetch ?? fetch;
  const query = dueStreamsQuery(p.states);
  const out: Nomination[] = [];
  let after = "0";
  for (;;) {
    let response: Response;
    try {
      response = await doFetch(`${p.indexerUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query, variables: { after } }),
        signal: AbortSignal.timeout(p.timeoutMs),
      });
    } catch (error) {
      const cause = (error as Error & { cause?: { code?: string } }).cause?.code;
      throw new IndexerError(`indexer at ${p.indexerUrl} unreachable: ${cause ?? (error as Error).message}`);
    }
    if (!response.ok) throw new IndexerError(`indexer at ${p.indexerUrl} answered HTTP ${response.status}`);
    let json: { data?: { streamViews?: { items?: Item[] } }; errors?: Array<{ message: string }> };
    try {
      json = (await response.json()) as typeof json;
    } catch {
      throw new IndexerError(`indexer at ${p.indexerUrl} answered something that is not JSON`);
    }
    if (json.errors?.length) {
      throw new IndexerError(`indexer GraphQL error: ${json.errors.map((e) => e.message).join("; ")}`);
    }
    const items = json.data?.streamViews?.items;
    if (!Array.isArray(items)) throw new IndexerError("indexer answer has no streamViews.items");
    for (const item of items) {
      const id = big(item.id);
      if (id === undefined) {
        throw new IndexerError(`indexer answered a stream id that is not a number: ${String(item.id)}`);
      }
      let dueAt: bigint | undefined;
      const state = String(item[STATE_FIELD]);
      if (state === DUE_STATES.abandoned) dueAt = big(item.abandonedAt);
      else if (state === DUE_STATES.cancel) {
        const endTime = big(item.endTime);
        dueAt = big(item.challengeEndsAt) ?? (endTime !== undefined ? endTime + p.challengeWindow : undefined);
      }
      out.push({ id, state, dueAt });
    }
    if (items.length < PAGE_SIZE) return out;
    after = items[items.length - 1].id;
  }
}
