/**
 * Where an alicloud VM runs: the instance type, zone and image, each configured, else kept from
 * the previous deployment, else looked up (the cheapest non-burstable type of the default shape,
 * a zone that sells it with the data disk's category, the newest public Debian 12 image).
 */
import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";

const DEBIAN_12_X64 = "^debian_12_\\d+_x64_";
const SYSTEM_DISK_CATEGORY = "cloud_essd";
/** The size the default instance type is chosen by: enough for Distribution, nginx and the UI. */
const DEFAULT_SHAPE = { cpuCoreCount: 2, memorySize: 4 };
/** The stack output the chosen placement is exported as, and read back from on the next run. */
export const PLACEMENT_OUTPUT = "alicloudPlacement";

/** The settings the placement reads (AlicloudHostArgs' of the same names). */
export interface PlacementSettings {
    /** Alibaba Cloud region ID, e.g. `cn-hongkong`. */
    region: string;
    /** Configured instance type; unset: looked up once, then kept. */
    instanceType?: string;
    /** Configured image ID; unset: looked up once, then kept. */
    imageId?: string;
    /** Configured zone; unset: looked up once, then kept. */
    zoneId?: string;
}

/** Where the VM runs: each value configured, or looked up on the stack's first deployment. */
export interface AlicloudPlacement {
    instanceType: string;
    zoneId: string;
    imageId: string;
}

/** One candidate of `ecs.getInstanceTypes`, the fields the choice reads. */
export interface InstanceTypeOffer {
    id: string;
    family: string;
    availabilityZones: string[];
    burstableInstance?: { initialCredit?: string; baselineCredit?: string };
}

/**
 * Burstable (credit-based) types: the `ecs.t*` families, or any type reporting CPU credits. A
 * registry busy for an hour (a CI pushing layers) would run out of credits and crawl.
 */
export function isBurstable(offer: InstanceTypeOffer): boolean {
    const credit = (value: string | undefined) => value !== undefined && value !== "" && value !== "0";
    return (
        /^ecs\.t\d/.test(offer.family) || credit(offer.burstableInstance?.initialCredit) || credit(offer.burstableInstance?.baselineCredit)
    );
}

/** The first offer (they come sorted by price) that is not burstable and is sold in some zone. */
export function chooseInstanceType(offers: InstanceTypeOffer[], region: string): string {
    const chosen = offers.find((offer) => !isBurstable(offer) && offer.availabilityZones.length > 0);
    if (chosen === undefined) {
        throw new Error(
            `no non-burstable instance type with ${DEFAULT_SHAPE.cpuCoreCount} vCPUs, ${DEFAULT_SHAPE.memorySize} GiB and an ESSD system disk is sold in ${region}; set alicloud.instanceType`,
        );
    }
    return chosen.id;
}

/** A placement read back from the previous deployment's outputs, if it holds all three values. */
export function previousPlacement(value: unknown): Partial<AlicloudPlacement> {
    if (typeof value !== "object" || value === null) return {};
    const record = value as Record<string, unknown>;
    const text = (key: keyof AlicloudPlacement) =>
        typeof record[key] === "string" && record[key] !== "" ? { [key]: record[key] as string } : {};
    return { ...text("instanceType"), ...text("zoneId"), ...text("imageId") };
}

/**
 * The placement a stack keeps. Looked-up values change when a type sells out, a zone fills up or
 * Alibaba publishes an image; a running registry must not follow them (a new zone means a new,
 * empty data disk). The first deployment looks them up and exports what it chose
 * (PLACEMENT_OUTPUT); every later run reads that export back and looks nothing up, so a type sold
 * out since cannot fail the preview of a stack already running on it. The VM's and the disk's
 * ignoreChanges keep them even without the export.
 */
export function keptPlacement(
    name: string,
    args: PlacementSettings,
    dataDiskCategory: string,
    parent: pulumi.Resource,
    opts: pulumi.InvokeOutputOptions,
): pulumi.Output<AlicloudPlacement> {
    const previous = new pulumi.StackReference(
        `${name}-previous-placement`,
        {
            name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
        },
        { parent },
    );
    return previous.getOutput(PLACEMENT_OUTPUT).apply((value) => choosePlacement(args, previousPlacement(value), dataDiskCategory, opts));
}

/**
 * The instance type, zone and image: configured, else kept from the previous deployment, else
 * looked up. Only what is neither configured nor kept is looked up; a configured type is checked
 * against the ECS offer (ESSD system disk, in the zone when it is known) only when it is new.
 */
function choosePlacement(
    args: PlacementSettings,
    kept: Partial<AlicloudPlacement>,
    dataDiskCategory: string,
    opts: pulumi.InvokeOutputOptions,
): pulumi.Output<AlicloudPlacement> {
    const region = args.region;
    const knownZone = args.zoneId ?? kept.zoneId;
    const offers = (filter: alicloud.ecs.GetInstanceTypesOutputArgs) =>
        alicloud.ecs
            .getInstanceTypesOutput(
                {
                    systemDiskCategory: SYSTEM_DISK_CATEGORY,
                    instanceChargeType: "PostPaid",
                    networkType: "Vpc",
                    ...filter,
                },
                opts,
            )
            .apply((found) => found.instanceTypes as InstanceTypeOffer[]);

    let instanceType: pulumi.Output<string>;
    if (args.instanceType !== undefined && args.instanceType === kept.instanceType) {
        instanceType = pulumi.output(args.instanceType);
    } else if (args.instanceType !== undefined) {
        const configured = args.instanceType;
        instanceType = offers({ instanceType: configured, availabilityZone: knownZone }).apply((found) => {
            if (!found.some((offer) => offer.id === configured)) {
                const where = knownZone === undefined ? region : `zone ${knownZone}`;
                throw new Error(
                    `alicloud.instanceType ${configured} is not sold in ${where} with an ESSD system disk; pick another type (\`aliyun ecs DescribeAvailableResource\` lists them)`,
                );
            }
            return configured;
        });
    } else if (kept.instanceType !== undefined) {
        instanceType = pulumi.output(kept.instanceType);
    } else {
        instanceType = offers({ ...DEFAULT_SHAPE, availabilityZone: knownZone, sortedBy: "Price" }).apply((found) =>
            chooseInstanceType(found, region),
        );
    }

    const zoneId =
        knownZone !== undefined
            ? pulumi.output(knownZone)
            : instanceType.apply((type) =>
                  alicloud
                      .getZonesOutput({ availableInstanceType: type, availableDiskCategory: dataDiskCategory }, opts)
                      .apply((found) =>
                          firstOf(
                              found.ids,
                              `no zone in ${region} offers ${type} with ${dataDiskCategory} disks; set alicloud.zoneId or alicloud.instanceType`,
                          ),
                      ),
              );

    const imageId =
        args.imageId ??
        kept.imageId ??
        instanceType.apply((type) =>
            alicloud.ecs
                .getImagesOutput({ owners: "system", nameRegex: DEBIAN_12_X64, mostRecent: true, instanceType: type }, opts)
                .apply((found) => firstOf(found.ids, `no public Debian 12 image in ${region} fits ${type}; set alicloud.imageId`)),
        );

    return pulumi
        .all([instanceType, zoneId, imageId])
        .apply(([type, zone, image]) => ({ instanceType: type, zoneId: zone, imageId: image }));
}

function firstOf(ids: string[], problem: string): string {
    if (ids.length === 0) throw new Error(problem);
    return ids[0];
}
