import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import { zoneRecords } from "../render/dnsRecords";

export interface AlidnsRecordsArgs {
    /** The Alidns zone (domain) the names live in, e.g. `example.com`. Required. */
    zone: string;
    /** Every name that must resolve to the host: the registry's names and the UI's. Required. */
    hostnames: string[];
    /** The IPv4 address the A records point at. Required. */
    address: pulumi.Input<string>;
    /** Record TTL in seconds; 600 is the lowest the free Alidns edition allows. Default: 600. */
    ttl?: number;
    /** The Alibaba Cloud provider to manage the records with. Default: the stack's default provider. */
    provider?: alicloud.Provider;
}

/** One Alidns A record per name, relative to the zone (`registry`, or `@` for the apex). */
export class AlidnsRecords extends pulumi.ComponentResource {
    constructor(name: string, args: AlidnsRecordsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:dns:AlidnsRecords", name, {}, opts);
        // `hostname` -> the record's ID, registered as this component's output.
        const recordIds: Record<string, pulumi.Output<string>> = {};
        for (const record of zoneRecords(args.hostnames, args.zone)) {
            const resource = new alicloud.dns.AlidnsRecord(
                `${name}-${record.hostname}`,
                {
                    domainName: args.zone,
                    rr: record.rr,
                    type: "A",
                    value: args.address,
                    ttl: args.ttl ?? 600,
                    remark: "private-registry",
                },
                { parent: this, provider: args.provider },
            );
            recordIds[record.hostname] = resource.id;
        }
        this.registerOutputs({ recordIds });
    }
}
