/** Builds the configured inference backend. */
import type { ProviderConfig, ProviderSecrets } from "../config.ts";
import { EchoBackend } from "./echo.ts";
import { OpenAIBackend } from "./openai.ts";
import type { InferenceBackend } from "./types.ts";

export * from "./types.ts";
export { EchoBackend } from "./echo.ts";
export { OpenAIBackend } from "./openai.ts";

export function createBackend(
  config: Pick<ProviderConfig, "backend" | "echoTokensPerSecond" | "echoMaxTokens" | "openaiBaseUrl" | "backendTimeoutMs">,
  secrets: Pick<ProviderSecrets, "openaiApiKey"> = { openaiApiKey: undefined },
): InferenceBackend {
  switch (config.backend) {
    case "echo":
      return new EchoBackend({ tokensPerSecond: config.echoTokensPerSecond, maxTokens: config.echoMaxTokens });
    case "openai":
      if (!config.openaiBaseUrl) throw new Error("the openai backend needs PROVIDER_OPENAI_BASE_URL");
      return new OpenAIBackend({ baseUrl: config.openaiBaseUrl, apiKey: secrets.openaiApiKey, timeoutMs: config.backendTimeoutMs });
    default:
      throw new Error(`unknown backend ${String(config.backend)}`);
  }
}
