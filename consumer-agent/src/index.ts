/**
 * @clawcompute/consumer-agent — buy inference per second: discover providers, open a stream sized to a
 * budget, send signed requests, stream the answer, close with the provider's verified final receipt.
 */
export { ClawConsumer, type ClawConsumerParameters, type AskParameters, type AskResult, type MyStream, type ProvidersParameters, type StreamsReturnType, type StreamActionResult } from "./consumer.ts";
export { Session, NoProviderError, type SessionParameters, type SendOptions, type SendResult, type SessionSummary, type AttemptRecord } from "./session.ts";
export { PaidStream, ProviderSkipped, ReceiptDispute, type StreamOutcome } from "./stream.ts";
export { discoverProviders, probeLiveness, rankProviders, rankPriceOf, smoothedRating, providersFromIndexer, providersFromRegistry, type ProviderInfo, type DiscoverProvidersParameters, type DiscoverProvidersReturnType } from "./discovery.ts";
export { Budget, BudgetExceeded, sizeDeposit, type SizeDepositParameters } from "./budget.ts";
export { checkReceipt, receiptAllowance, type ReceiptCheck, type ReceiptPolicy } from "./receipts.ts";
export { ProviderClient, ProviderError, type ChatMessage, type ChatResult } from "./provider-client.ts";
export { GasMeter, gasCostOf, type AssetInfo } from "./chain.ts";
export { DEFAULT_SETTINGS, type ConsumerSettings } from "./context.ts";
export { loadConsumerConfig, OPTIONS, envExample, helpText, type ConsumerConfig, type LoadedConsumerConfig } from "./config.ts";
export { formatUnitsOf } from "./format.ts";
