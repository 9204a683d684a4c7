/** The integration suite against PostgreSQL (DATABASE_URL), on a server the suite starts and stops itself. */
import { indexerSuite } from "./suite.ts";

indexerSuite("postgres");
