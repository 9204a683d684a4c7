/**
 * HTTP API: GraphQL at /graphql and / (what auditors browse; GET opens GraphiQL), SQL over HTTP at
 * /sql/* (the @ponder/client protocol, read-only). Ponder itself serves /health, /ready, /status and
 * /metrics on the same port.
 */
import { db } from "ponder:api";
import schema from "ponder:schema";
import { Hono } from "hono";
import { client, graphql } from "ponder";

const app = new Hono();

/**
 * Ponder's SQL endpoint caches each query's result until a table it reads changes. `stream_view` also
 * depends on the clock (a stream turns "depleted" or "abandoned", a cancel's window runs out, with no
 * event), so queries that read it are keyed to the current second: their answers are at most one second
 * old, like GraphQL's (computed per request).
 */
app.use("/sql/*", async (c, next) => {
  const param = c.req.query("sql");
  if (param && /stream_view/i.test(param)) {
    try {
      const payload = JSON.parse(param) as { json?: { sql?: unknown } };
      if (payload.json && typeof payload.json.sql === "string") {
        payload.json.sql = `${payload.json.sql}\n/* as of ${Math.floor(Date.now() / 1000)} */`;
        const url = new URL(c.req.url);
        url.searchParams.set("sql", JSON.stringify(payload));
        c.req.raw = new Request(url, c.req.raw);
      }
    } catch {
      /* not ours to judge: the SQL middleware answers malformed input */
    }
  }
  await next();
});
app.use("/sql/*", client({ db, schema }));

app.use("/graphql", graphql({ db, schema }));
app.use("/", graphql({ db, schema }));

export default app;
