/**
 * `npm run bench:storage`: pulls from a bucket with Distribution's `redirect` off (the edge relays
 * the registry, which streams from the bucket) and on (the edge answers 307 and the client fetches
 * from the bucket itself), everything on loopback: versitygw with TLS as the bucket, Debian's
 * Distribution 2.8 with the `config.yml` the stack renders, nginx with the rendered edge.
 * Sizes as docs/benchmarks.md's scenarios 1-3 (BENCH_QUICK=1: small ones, to check the script).
 * Prints a table for docs/benchmarks.md (its section after <!-- bench:storage -->, which `npm run
 * bench` keeps); not a test. Run it under the heavy lock:
 *   flock /tmp/private-registry-heavy.lock npm run bench:storage
 */
import { readFileSync, writeFileSync } from "fs";
import { loadavg } from "os";
import { join } from "path";
import { issueTestCertificates } from "../lib/program/fakeProviders";
import { makeTempDir, runCleanups } from "../lib/processes";
import { EDGE_HOST, REGISTRY, ReplicaSet, startReplicaSet } from "../lib/s3Replicas";
import { startS3Server } from "../lib/s3Server";
import { Endpoint, Outcome, pullBlobs, pullConcurrently, pushBlobs } from "./registryClient";
import { formatSpread, GIB, MIB, mibPerSecond, spread } from "./stats";
import { BlobFile, writeRandomBlob } from "../lib/randomBlob";

const QUICK = process.env.BENCH_QUICK === "1";
const SIZES = QUICK
    ? { big: 64 * MIB, smallCount: 20, small: MIB, shared: 16 * MIB, clients: 8, runs: 1 }
    : { big: GIB, smallCount: 200, small: MIB, shared: 256 * MIB, clients: 8, runs: 3 };
const progress = (text: string) => process.stderr.write(`[bench:storage ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

function endpoint(set: ReplicaSet, redirect: boolean): Endpoint {
    // -L: follow the 307 to the bucket; curl sends no credentials to another host, the URL is signed.
    return { baseUrl: set.edgeUrl, curlOptions: [...set.curlOptions, ...(redirect ? ["-L"] : [])], client: [] };
}

function must(outcome: Outcome, what: string): number {
    if (!outcome.ok) throw new Error(`${what}: ${outcome.reason}`);
    return outcome.seconds;
}

async function main(): Promise<void> {
    const dir = makeTempDir("pr-bench-storage-");
    const pki = issueTestCertificates([EDGE_HOST], ["127.0.0.1"]);
    const tls = { certificatePath: join(dir, "s3.crt"), privateKeyPath: join(dir, "s3.key"), caPath: join(dir, "ca.crt") };
    writeFileSync(tls.certificatePath, pki.certificatePem);
    writeFileSync(tls.privateKeyPath, pki.privateKeyPem, { mode: 0o600 });
    writeFileSync(tls.caPath, pki.caPem);
    // The bucket over TLS too, as OSS and S3 are: both ways pay for encryption.
    const s3 = await startS3Server(join(dir, "s3"), tls);
    await s3.createBucket("bench");
    const sets = {
        off: await startReplicaSet({
            dir: join(dir, "off"),
            s3,
            bucket: "bench",
            binaries: [REGISTRY],
            redirect: false,
            certificates: pki,
        }),
        on: await startReplicaSet({ dir: join(dir, "on"), s3, bucket: "bench", binaries: [REGISTRY], redirect: true, certificates: pki }),
    };

    progress("writing the blobs and pushing them (through the redirect-off edge: a push never redirects)");
    const big = writeRandomBlob(join(dir, "big.bin"), SIZES.big);
    const shared = writeRandomBlob(join(dir, "shared.bin"), SIZES.shared);
    const small: BlobFile[] = [];
    for (let i = 0; i < SIZES.smallCount; i++) small.push(writeRandomBlob(join(dir, `small-${i}.bin`), SIZES.small));
    const push = endpoint(sets.off, false);
    must(await pushBlobs(push, "bench/big", [big]), "push big");
    must(await pushBlobs(push, "bench/small", small), "push small");
    must(await pushBlobs(push, "bench/shared", [shared]), "push shared");

    const rows = [
        { label: `pull, one ${formatSize(SIZES.big)} layer`, bytes: SIZES.big, pull: (e: Endpoint) => pullBlobs(e, "bench/big", [big]) },
        {
            label: `pull, ${SIZES.smallCount} × ${formatSize(SIZES.small)} layers`,
            bytes: SIZES.smallCount * SIZES.small,
            pull: (e: Endpoint) => pullBlobs(e, "bench/small", small),
        },
        {
            label: `${SIZES.clients} concurrent pulls of ${formatSize(SIZES.shared)}, aggregate`,
            bytes: SIZES.clients * SIZES.shared,
            pull: (e: Endpoint) => pullConcurrently(e, "bench/shared", shared, SIZES.clients),
        },
    ];
    const rates: Record<string, { off: number[]; on: number[] }> = Object.fromEntries(rows.map((r) => [r.label, { off: [], on: [] }]));
    for (let run = 1; run <= SIZES.runs; run++) {
        for (const row of rows) {
            // Interleaved, so a busy neighbour weighs on both the same.
            for (const mode of ["off", "on"] as const) {
                const seconds = must(await row.pull(endpoint(sets[mode], mode === "on")), `${row.label}, redirect ${mode}`);
                rates[row.label][mode].push(mibPerSecond(row.bytes, seconds));
                progress(`run ${run}: ${row.label}, redirect ${mode}: ${mibPerSecond(row.bytes, seconds).toFixed(0)} MiB/s`);
            }
        }
    }
    const redirects = sets.on.replicas[0];
    // The figures mean what they say only if "on" redirected and "off" relayed.
    const statuses = (set: ReplicaSet) =>
        readFileSync(set.replicas[0].daemon.logFile, "utf8").match(/http\.response\.status=307/g)?.length ?? 0;
    if (statuses(sets.on) === 0 || statuses(sets.off) > 0)
        throw new Error(`expected 307s from the redirect-on replica only; got ${statuses(sets.on)} and ${statuses(sets.off)}`);
    console.log(
        `\nPulls through the edge from a bucket (versitygw over TLS on loopback), Distribution 2.8 (${REGISTRY}), ${SIZES.runs} runs each, MiB/s median (min–max); load average at the end ${loadavg()[0].toFixed(2)}`,
    );
    console.log(`(the redirect-on replica's log: ${redirects.daemon.logFile})\n`);
    console.log("| Scenario | redirect off (edge relays) | redirect on (client fetches from the bucket) | on / off |");
    console.log("|---|---|---|---|");
    for (const row of rows) {
        const off = spread(rates[row.label].off);
        const on = spread(rates[row.label].on);
        console.log(
            `| ${row.label} | ${formatSpread(off)} | ${formatSpread(on)} | ${off && on ? (on.median / off.median).toFixed(2) : "–"}x |`,
        );
    }
}

function formatSize(bytes: number): string {
    return bytes >= GIB ? `${bytes / GIB} GiB` : `${bytes / MIB} MiB`;
}

main().then(runCleanups, async (error) => {
    process.stderr.write(`bench:storage failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    await runCleanups().catch(() => undefined);
    process.exitCode = 1;
});
