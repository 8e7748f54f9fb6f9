/**
 * Webhooks (`notifications`): Distribution's `notifications.endpoints` section of config.yml and the
 * environment variables that carry each endpoint's headers. Pure: values in, values out.
 *
 * The headers are secrets (an `Authorization` token, say), so they are not in config.yml, whose
 * diff a preview shows line by line: each endpoint's headers reach the registry as
 * `REGISTRY_NOTIFICATIONS_ENDPOINTS_<i>_HEADERS`, an override of that list entry's `headers` which
 * Distribution 3's config parser applies (2.8's cannot index a list: the config rules refuse
 * headers with it). Proved by the real registry: test/integration/distribution3.test.ts.
 */
import type { NotificationEvent } from "../config/types";

/** One webhook as the renderer takes it. */
export interface WebhookInput {
    url: string;
    /** The events sent; the others are ignored. */
    events: readonly NotificationEvent[];
}

/** Every action Distribution reports; `mount` is a blob's, which BLOB_MEDIA_TYPE already leaves out. */
const ACTIONS: readonly NotificationEvent[] = ["push", "delete", "pull"];
/**
 * The media type of Distribution's events about layers and configs (blobs). Ignored: a receiver
 * hears about manifests (images, indexes, signatures), one event per push, not one per layer.
 */
export const BLOB_MEDIA_TYPE = "application/octet-stream";
/**
 * How long one POST may take, how many failures open the circuit breaker, and how long it stays
 * open. Distribution retries an event until it is delivered, holding it and every later one in
 * memory meanwhile: a restart of the registry loses them (docs/operations.md).
 */
export const WEBHOOK_DELIVERY = { timeout: "5s", threshold: 5, backoff: "10s" } as const;

/** The name of the `index`-th endpoint (0-based) in the registry's logs and metrics. */
export function webhookName(index: number): string {
    return `webhook-${index + 1}`;
}

/** `notifications` for config.yml: the endpoints, without their headers. */
export function notificationsSection(webhooks: readonly WebhookInput[]): Record<string, unknown> {
    return {
        endpoints: webhooks.map((webhook, i) => ({
            name: webhookName(i),
            url: webhook.url,
            ...WEBHOOK_DELIVERY,
            ignore: {
                mediatypes: [BLOB_MEDIA_TYPE],
                actions: ACTIONS.filter((action) => !webhook.events.includes(action)),
            },
        })),
    };
}

/**
 * The environment variable giving the `index`-th endpoint (0-based) its headers, `NAME=VALUE` with
 * the value as JSON (Distribution reads it as YAML). Secret: the caller keeps it so.
 */
export function webhookHeadersEnv(index: number, headers: Record<string, string>): string {
    const value = JSON.stringify(Object.fromEntries(Object.entries(headers).map(([name, v]) => [name, [v]])));
    return `REGISTRY_NOTIFICATIONS_ENDPOINTS_${index}_HEADERS=${value}`;
}
