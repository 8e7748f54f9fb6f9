/**
 * The rules across keys: what one key's value allows of another's, and the defaults that depend
 * on other keys. They run on the typed values every key's declaration has read (keys.ts), one
 * function per topic (names, ports, a mode's own keys, Distribution versions, users, the
 * certificate), and give the settings of the stack's mode. Pure.
 */
import { isIP } from "net";
import type { ValuesOf } from "./declare";
import { CONFIG_KEYS, LOCAL_MODE_HOSTNAMES, MIRROR_LOOPBACK_PORT } from "./keys";
import type { Reader } from "./reader";
import type { CommonSettings, StackConfig } from "./types";

/** Every key's value as its declaration read it; a mode's own keys only in that mode. */
export type KeyValues = Omit<ValuesOf<typeof CONFIG_KEYS>, "sshPrivateKey">;

/** Where the rules record problems: the stack's keys. */
type Keys = Reader<typeof CONFIG_KEYS>;

/** Let's Encrypt certificates live 90 days, falling to 45: more than 30 would soon renew on every run (and hit rate limits), fewer than 7 can miss a weekly renewal job. */
const ACME_RENEW_BEFORE_DAYS = { min: 7, max: 30 };

/**
 * Checks the values against each other (problems go to `read`) and gives the stack's settings;
 * undefined when a mode's own settings are missing or wrong, a problem `read` has recorded.
 */
export function applyRules(values: KeyValues, read: Keys): StackConfig | undefined {
    const names = registryNames(values, read);
    checkPorts(values, read);
    const modeOwn = modeOwnKeys(values, read);
    checkDistributionVersions(values, read);
    const passwordRotation = rotationOfKnownUsers(values, read);
    checkRenewalWindow(values, read);
    checkRetention(values, read);

    // Both majors are known unless a problem names the image.
    const { registry, mirror } = values.images;
    if (registry.major === undefined || mirror.major === undefined) return undefined;
    // Every key shared by the modes as read, but those the rules complete or correct.
    const { mode: _mode, dockerHost: _dockerHost, ssh: _ssh, alicloud: _alicloud, gc, ...shared } = values;
    const common: CommonSettings = {
        ...shared,
        hostnames: names.hostnames,
        uiHostname: names.uiHostname,
        passwordRotation,
        // Clients told to use an IPv6 address must find the edge there.
        listenIpv6: values.listenIpv6 || values.ipAddresses.some((ip) => isIP(ip) === 6),
        replicas: modeOwn.replicas,
        images: {
            ...values.images,
            registry: { reference: registry.reference, major: registry.major },
            mirror: { reference: mirror.reference, major: mirror.major },
        },
        gc: gc?.schedule === undefined ? undefined : { schedule: gc.schedule, deleteUntagged: gc.deleteUntagged },
    };
    const { storage } = values;
    switch (values.mode) {
        case "local":
            return storage.kind === "oss" ? undefined : { ...common, mode: "local", dockerHost: modeOwn.dockerHost, storage };
        case "ssh":
            return storage.kind === "oss" || values.ssh === undefined ? undefined : { ...common, mode: "ssh", ssh: values.ssh, storage };
        case "alicloud":
            return values.alicloud === undefined || values.acme === undefined
                ? undefined
                : { ...common, mode: "alicloud", alicloud: values.alicloud, acme: values.acme };
    }
}

/** The names the registry answers to, and the UI's own. */
interface RegistryNames {
    hostnames: string[];
    uiHostname?: string;
    /** `hostnames` was left unset (or empty, the default Pulumi.yaml declares). */
    namesImplied: boolean;
}

/**
 * Only a registry on this machine may go without a name: "localhost" reaches it. Clients need at
 * least one name or address; the UI's own name must be one no other server block answers to;
 * alicloud mode serves names under its DNS zone; the mirror's name is its own; ACME certifies
 * names, never IP addresses or the implied "localhost".
 */
function registryNames(values: KeyValues, read: Keys): RegistryNames {
    const { mode, ipAddresses, mirror } = values;
    const namesImplied = values.hostnames.length === 0;
    const hostnames = namesImplied ? (mode === "local" && ipAddresses.length === 0 ? [...LOCAL_MODE_HOSTNAMES] : []) : values.hostnames;
    if (hostnames.length + ipAddresses.length === 0)
        read.fail("hostnames", `or ${read.name("ipAddresses")} must name at least one address clients use`);

    let uiHostname = values.uiHostname;
    if (uiHostname !== undefined && (hostnames.includes(uiHostname) || ipAddresses.includes(uiHostname))) {
        const where = namesImplied
            ? `the name local mode implies when ${read.name("hostnames")} is unset`
            : `a ${read.name("hostnames")} entry`;
        uiHostname = read.fail(
            "uiHostname",
            `must differ from every registry name (the UI redirects from those to its own): ${JSON.stringify(uiHostname)} is ${where}`,
        );
    }

    if (values.alicloud !== undefined) {
        const { dnsZone } = values.alicloud;
        if (dnsZone !== "") {
            const served: [string, string][] = [
                ...hostnames.map((name) => ["hostnames", name] as [string, string]),
                ...(uiHostname ? [["uiHostname", uiHostname] as [string, string]] : []),
            ];
            for (const [key, name] of served) {
                if (name !== dnsZone && !name.endsWith(`.${dnsZone}`))
                    read.fail(
                        key,
                        `entry ${JSON.stringify(name)} is not under ${read.name("alicloud.dnsZone")} ${JSON.stringify(dnsZone)}`,
                    );
            }
        }
        if (hostnames.length === 0) read.fail("hostnames", `is required in alicloud mode: ${read.form("hostnames")}`);
    }

    if (mirror?.hostname !== undefined && hostnames.includes(mirror.hostname))
        read.fail("mirror.hostname", `must differ from the registry's own names; got ${JSON.stringify(mirror.hostname)}`);

    if (values.acme !== undefined) {
        if (ipAddresses.length > 0) read.fail("ipAddresses", "must be empty with acme: Let's Encrypt does not certify IP addresses");
        // Not the local default "localhost": no public CA certifies it.
        if (namesImplied) read.fail("hostnames", `is required with acme: ${read.form("hostnames")}`);
    }
    return { hostnames, uiHostname, namesImplied };
}

/**
 * The public ports differ; on the host's network the loopback ports (the UI's, the metrics', the
 * mirror's) differ from them and from each other too; a mirror without a name needs a public
 * port of its own.
 */
function checkPorts(values: KeyValues, read: Keys): void {
    const { containerNetwork, httpsPort, httpPort, uiPort, metricsPort, mirror } = values;
    const ports = { httpsPort, httpPort, uiPort, metricsPort };
    if (containerNetwork === "host") {
        const taken = Object.entries(ports).filter(([, p], i, all) => all.findIndex(([, q]) => q === p) !== i);
        for (const [key, port] of taken)
            read.fail(key, `(${port}) collides with another port; with containerNetwork "host" these ports must all differ`);
    } else if (httpsPort === httpPort) {
        read.fail("httpsPort", `and ${read.name("httpPort")} must differ; both are ${httpsPort}`);
    }
    if (mirror === undefined) return;
    if (mirror.hostname === undefined && [httpsPort, httpPort].includes(mirror.httpsPort))
        read.fail("mirror.httpsPort", `(${mirror.httpsPort}) must differ from httpsPort and httpPort, or give the mirror a hostname`);
    if (containerNetwork === "host") {
        // On the host's network the mirror also takes a loopback port of its own.
        for (const [key, port] of Object.entries(ports).filter(([, p]) => p === MIRROR_LOOPBACK_PORT)) {
            read.fail(key, `(${port}) is the mirror's loopback port with containerNetwork "host"; choose another`);
        }
        if (mirror.hostname === undefined && [uiPort, metricsPort, MIRROR_LOOPBACK_PORT].includes(mirror.httpsPort)) {
            read.fail(
                "mirror.httpsPort",
                `(${mirror.httpsPort}) collides with a loopback port; with containerNetwork "host" all ports must differ`,
            );
        }
    }
}

/**
 * Keys that apply in some modes only: set in another, they are refused (a stack says what it
 * means), and the values of the mode's own keys that other modes do not take.
 */
function modeOwnKeys(values: KeyValues, read: Keys): { dockerHost?: string; replicas: number } {
    const { mode, storage } = values;
    // Local mode's daemon; the other modes reach their host's daemon themselves.
    let dockerHost = values.dockerHost;
    if (dockerHost !== undefined && mode !== "local")
        dockerHost = read.fail("dockerHost", `applies to local mode only; mode "${mode}" reaches its host's daemon over SSH`);

    // Replicas need the alicloud load balancer and blobs every replica sees: a bucket, not one VM's disk.
    const oneHost = CONFIG_KEYS.replicas.default as number;
    let replicas = values.replicas;
    if (replicas !== oneHost && mode !== "alicloud") {
        read.fail(
            "replicas",
            `applies to alicloud mode only (the stack creates the VMs and their load balancer there); mode "${mode}" runs one host`,
        );
        replicas = oneHost;
    } else if (replicas !== oneHost && storage.kind === "filesystem") {
        read.fail(
            "replicas",
            `(${replicas}) needs ${read.name("storage.kind")} "oss" or "s3": every replica must see the same blobs, and "filesystem" keeps them on one VM's disk`,
        );
    }

    if (mode === "alicloud") read.value("acme").required(" in alicloud mode, which uses Let's Encrypt");
    if (values.hostRegistryMirrors.length > 0 && mode === "local") {
        read.fail(
            "hostRegistryMirrors",
            "applies to the daemon this stack installs (ssh and alicloud modes); in local mode set registry-mirrors in your own daemon.json",
        );
    }
    if (values.mirror?.hostname !== undefined && mode === "alicloud")
        read.fail(
            "mirror.hostname",
            "is not supported in alicloud mode yet (its DNS records and certificate cover hostnames and uiHostname); use mirror.httpsPort",
        );
    if (storage.kind === "oss" && mode !== "alicloud") {
        read.fail(
            "storage.kind",
            `"oss" applies to alicloud mode only (the stack creates the bucket there); mode "${mode}" can use kind "s3" with OSS's S3-compatible endpoint`,
        );
    }
    return { dockerHost, replicas };
}

/** What the registry's Distribution 2.x cannot do: keep multi-arch images whole through `--delete-untagged`, reach OSS. */
function checkDistributionVersions(values: KeyValues, read: Keys): void {
    const { registry } = values.images;
    if (values.gc?.deleteUntagged && registry.major !== 3) {
        read.fail(
            "gc.deleteUntagged",
            `needs Distribution 3 (${read.name("images")}.registry ${JSON.stringify(registry.reference)} is 2.x, whose --delete-untagged deletes the platform manifests of every multi-arch image: distribution issues 3004, 3178); use a registry:3 image or leave it false`,
        );
    }
    const withHeaders = values.notifications.findIndex((endpoint) => endpoint.headerNames.length > 0);
    if (withHeaders >= 0 && registry.major !== 3) {
        // Headers are secrets: they reach the registry as REGISTRY_NOTIFICATIONS_ENDPOINTS_<i>_HEADERS,
        // an environment variable naming a list entry, which 2.8's config parser cannot apply.
        read.fail(
            `notifications[${withHeaders}].headers`,
            `needs Distribution 3: ${read.name("images")}.registry ${JSON.stringify(registry.reference)} is 2.x, which cannot take a webhook's headers from the environment, and they must stay out of config.yml; use a registry:3 image`,
        );
    }
    if (values.storage.kind === "oss" && registry.major === 2) {
        // 2.8's s3 driver forces path-style requests once an endpoint is set; OSS answers only
        // virtual-hosted ones (docs/scale.md). 3.x reaches OSS through s3 without path style.
        read.fail(
            "storage.kind",
            `"oss" needs Distribution 3: ${read.name("images")}.registry ${JSON.stringify(registry.reference)} is 2.x, whose s3 driver OSS refuses; use a registry:3 image`,
        );
    }
}

/**
 * `passwordRotation` names users of `users` only. The password and salt resources carry a user's
 * keeper, so a new value replaces exactly that user's password and hash; a user not named keeps theirs.
 */
function rotationOfKnownUsers(values: KeyValues, read: Keys): Record<string, string> {
    const userNames = values.users.map((u) => u.name);
    const strangers = Object.keys(values.passwordRotation).filter((username) => !userNames.includes(username));
    if (strangers.length === 0) return values.passwordRotation;
    read.fail("passwordRotation", `names ${strangers.map((s) => JSON.stringify(s)).join(", ")}, not in ${read.name("users")}`);
    return {};
}

/**
 * Retention runs right before each garbage collection, on `gc.schedule`: without `gc` it would have
 * no schedule, and the space of what it deletes would never come back. It deletes through the
 * registry's API, which refuses deletes unless `deleteEnabled`.
 */
function checkRetention(values: KeyValues, read: Keys): void {
    if (values.retention.length === 0) return;
    if (values.gc === undefined)
        read.fail(
            "retention",
            `needs ${read.name("gc")}: it runs right before each collection, on gc.schedule, and only a collection gives the deleted images' space back; set gc, e.g. {"schedule": "@daily"}`,
        );
    if (!values.deleteEnabled)
        read.fail(
            "retention",
            `needs ${read.name("deleteEnabled")} true: it deletes tags through the registry's API, which refuses deletes otherwise`,
        );
}

/** The certificate is renewed before it expires; with ACME, inside a window Let's Encrypt's lifetimes and a weekly job allow. */
function checkRenewalWindow(values: KeyValues, read: Keys): void {
    const { certificateValidityDays: validityDays, certificateRenewBeforeDays: renewBeforeDays } = values;
    if (renewBeforeDays >= validityDays) {
        read.fail(
            "certificateRenewBeforeDays",
            `must be ${read.form("certificateRenewBeforeDays")}; got ${renewBeforeDays} with validity ${validityDays}`,
        );
    }
    const { min, max } = ACME_RENEW_BEFORE_DAYS;
    if (values.acme !== undefined && (renewBeforeDays < min || renewBeforeDays > max)) {
        read.fail(
            "certificateRenewBeforeDays",
            `must be ${min}-${max} with acme (Let's Encrypt certificates live 90 days, soon 45; renewal runs on pulumi up); got ${renewBeforeDays}`,
        );
    }
}
