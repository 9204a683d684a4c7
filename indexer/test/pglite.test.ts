/** The integration suite against Ponder's embedded PGlite (the default database). */
import { indexerSuite } from "./suite.ts";

indexerSuite("pglite");
