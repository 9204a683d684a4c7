/**
 * Provider discovery: the indexer's GraphQL first, the registry on-chain when the indexer does not answer
 * (getActiveProviderIdsByModel + getProvider); filters (model, asset, max price, min rating); a liveness
 * probe (GET /healthz with a short timeout); and the ranking.
 *
 * Ranking, best first:
 *   1. live providers (healthz 200, status "ok", same provider id), then unprobed, then dead ones;
 *   2. lowest rating-adjusted price: pricePerSecond × (1 + (5 − r) / 8), where r is the provider's
 *      average rating pulled towards 4 by two virtual votes, r = (ratingSum + 8) / (ratingCount + 2):
 *      an unrated provider counts as 4 (+12.5%), a provider rated 1 by everyone approaches +50%;
 *   3. more requests served; 4. lower id.
 * Prices in different assets are not comparable, so one discovery looks at one asset.
 */
import { type Address, getAddress } from "viem";
import { computeRegistryAbi, perSecondToPerHour } from "@clawcompute/sdk";
import type { Clients } from "./chain.ts";

export type ProviderInfo = {
  id: bigint;
  wallet: Address;
  model: string;
  asset: Address;
  pricePerSecond: bigint;
  pricePerHour: bigint;
  endpoint: string;
  active: boolean;
  requestsServed: bigint;
  ratingCount: number;
  ratingSum: number;
  /** Average rating 1–5, or null before the first rating. */
  ratingAverage: number | null;
  /** healthz answered ok (true), failed (false), or was not probed (undefined). */
  live: boolean | undefined;
  liveDetail?: string;
  /** The rating-adjusted price the ranking sorts by (asset units per second, as a float). */
  rankPrice: number;
};

export type DiscoverProvidersParameters = {
  clients: Clients;
  registry: Address;
  /** Indexer base URL, or undefined to read the registry only. */
  indexerUrl: string | undefined;
  model: string;
  asset: Address;
  maxPricePerSecond?: bigint;
  minRating?: number;
  /** Probe GET /healthz of each provider (default true). */
  checkLiveness?: boolean;
  healthTimeoutMs?: number;
  indexerTimeoutMs?: number;
  fetch?: typeof fetch;
};

export type DiscoverProvidersReturnType = {
  providers: ProviderInfo[];
  source: "indexer" | "registry";
  /** Why the indexer was not used, when it was asked and failed. */
  indexerError?: string;
};

type RawProvider = Omit<ProviderInfo, "pricePerHour" | "live" | "liveDetail" | "rankPrice" | "ratingAverage">;

const PROVIDERS_QUERY = `query Providers($model: String!) {
  providers(where: { model: $model, active: true }, limit: 1000) {
    items { id wallet model asset pricePerSecond endpoint active requestsServed ratingCount ratingSum }
  }
}`;

/** Active providers of a model from the indexer's GraphQL. Throws when the indexer does not answer. */
export async function providersFromIndexer(indexerUrl: string, model: string, timeoutMs = 3000, doFetch: typeof fetch = fetch): Promise<RawProvider[]> {
  const response = await doFetch(`${indexerUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: PROVIDERS_QUERY, variables: { model } }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) throw new Error(`indexer answered HTTP ${response.status}`);
  const json = (await response.json()) as { data?: { providers?: { items: Array<Record<string, string | number | boolean>> } }; errors?: Array<{ message: string }> };
  if (json.errors?.length) throw new Error(`indexer GraphQL error: ${json.errors.map((e) => e.message).join("; ")}`);
  if (!json.data?.providers) throw new Error("indexer answered without providers");
  return json.data.providers.items.map((p) => ({
    id: BigInt(p.id as string),
    wallet: getAddress(p.wallet as string),
    model: p.model as string,
    asset: getAddress(p.asset as string),
    pricePerSecond: BigInt(p.pricePerSecond as string),
    endpoint: p.endpoint as string,
    active: p.active as boolean,
    requestsServed: BigInt(p.requestsServed as string),
    ratingCount: Number(p.ratingCount),
    ratingSum: Number(p.ratingSum),
  }));
}

/** Active providers of a model read from the registry (the fallback: no indexer needed). */
export async function providersFromRegistry(clients: Clients, registry: Address, model: string): Promise<RawProvider[]> {
  const ids = await clients.public.readContract({ address: registry, abi: computeRegistryAbi, functionName: "getActiveProviderIdsByModel", args: [model] });
  const views = await Promise.all(ids.map((id) => clients.public.readContract({ address: registry, abi: computeRegistryAbi, functionName: "getProvider", args: [id] })));
  return views.map((v) => ({
    id: v.id,
    wallet: v.wallet,
    model: v.model,
    asset: v.asset,
    pricePerSecond: v.pricePerSecond,
    endpoint: v.endpoint,
    active: v.active,
    requestsServed: v.requestsServed,
    ratingCount: Number(v.ratingCount),
    ratingSum: Number(v.ratingSum),
  }));
}

/** GET {endpoint}/healthz: live when it answers 200 with status "ok" for this provider id. */
export async function probeLiveness(endpoint: string, providerId: bigint, timeoutMs = 1500, doFetch: typeof fetch = fetch): Promise<{ live: boolean; detail?: string }> {
  try {
    const response = await doFetch(`${endpoint.replace(/\/+$/, "")}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status !== 200) return { live: false, detail: `healthz HTTP ${response.status}` };
    const body = (await response.json().catch(() => ({}))) as { status?: string; providerId?: string | number };
    if (body.status !== undefined && body.status !== "ok") return { live: false, detail: `healthz status ${body.status}` };
    if (body.providerId !== undefined && body.providerId !== null && String(body.providerId) !== providerId.toString()) {
      return { live: false, detail: `endpoint serves provider ${body.providerId}, not ${providerId}` };
    }
    return { live: true };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    return { live: false, detail: e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message) };
  }
}

/** The rating the ranking uses: the average pulled towards 4 by two virtual votes. */
export function smoothedRating(ratingSum: number, ratingCount: number): number {
  return (ratingSum + 8) / (ratingCount + 2);
}

export function rankPriceOf(p: Pick<ProviderInfo, "pricePerSecond" | "ratingSum" | "ratingCount">): number {
  return Number(p.pricePerSecond) * (1 + (5 - smoothedRating(p.ratingSum, p.ratingCount)) / 8);
}

const liveOrder = (live: boolean | undefined) => (live === true ? 0 : live === undefined ? 1 : 2);

/** Sorts best first (see the module comment). */
export function rankProviders(providers: ProviderInfo[]): ProviderInfo[] {
  return [...providers].sort(
    (a, b) =>
      liveOrder(a.live) - liveOrder(b.live) ||
      a.rankPrice - b.rankPrice ||
      (a.requestsServed > b.requestsServed ? -1 : a.requestsServed < b.requestsServed ? 1 : 0) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/** Discovers, filters, probes and ranks the providers of a model. */
export async function discoverProviders(p: DiscoverProvidersParameters): Promise<DiscoverProvidersReturnType> {
  let raw: RawProvider[];
  let source: DiscoverProvidersReturnType["source"] = "registry";
  let indexerError: string | undefined;
  if (p.indexerUrl) {
    try {
      raw = await providersFromIndexer(p.indexerUrl, p.model, p.indexerTimeoutMs, p.fetch);
      source = "indexer";
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } };
      indexerError = e.name === "TimeoutError" ? `no answer within ${p.indexerTimeoutMs ?? 3000} ms` : (e.cause?.code ?? e.message);
      raw = await providersFromRegistry(p.clients, p.registry, p.model);
    }
  } else {
    raw = await providersFromRegistry(p.clients, p.registry, p.model);
  }
  const filtered = raw.filter((r) => {
    if (!r.active || r.model !== p.model) return false;
    if (r.asset.toLowerCase() !== p.asset.toLowerCase()) return false;
    if (p.maxPricePerSecond !== undefined && r.pricePerSecond > p.maxPricePerSecond) return false;
    if (p.minRating && r.ratingCount > 0 && r.ratingSum / r.ratingCount < p.minRating) return false;
    return true;
  });
  const probed = await Promise.all(
    filtered.map(async (r): Promise<ProviderInfo> => {
      const health = p.checkLiveness === false ? { live: undefined, detail: undefined } : await probeLiveness(r.endpoint, r.id, p.healthTimeoutMs, p.fetch);
      return {
        ...r,
        pricePerHour: perSecondToPerHour(r.pricePerSecond),
        ratingAverage: r.ratingCount > 0 ? r.ratingSum / r.ratingCount : null,
        live: health.live,
        liveDetail: health.detail,
        rankPrice: rankPriceOf(r),
      };
    }),
  );
  return { providers: rankProviders(probed), source, indexerError };
}
