/**
 * scripts/upstream.sh, the one way every consumer (the engine build, the UI stand-in) gets the
 * upstream sources no registry serves: a local folder of snapshots first (PRIVATE_REGISTRY_VENDOR,
 * else shared/vendor beside the clone), else a git fetch of the pinned commit into the cache. The
 * fetch runs against local bare repositories standing in for the upstream ones (file:// URLs):
 * what the pinned commit holds arrives, anything else is refused and leaves nothing in the cache.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { deflateSync } from "zlib";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../..");
const SCRIPT = join(ROOT, "scripts/upstream.sh");

interface Source {
    name: string;
    file: string;
    repository: string;
    commit: string;
}

/** The catalogue, as `scripts/upstream.sh --list` prints it. */
async function catalogue(): Promise<Source[]> {
    const { stdout } = await run("bash", [SCRIPT, "--list"]);
    return stdout
        .trim()
        .split("\n")
        .map((line) => {
            const [name, file, where] = line.split(/\s+/);
            const [, repository, commit] = /^github\.com\/(.+)@([0-9a-f]{40})$/.exec(where) ?? assert.fail(line);
            return { name, file, repository, commit };
        });
}

const git = (cwd: string, args: string[]) =>
    run("git", ["-c", "user.name=upstream", "-c", "user.email=upstream@example.com", ...args], { cwd });

/** A bare repository standing in for an upstream one, its objects loose (so one can be tampered with); returns its commit. */
async function standInRepository(bare: string, files: Record<string, string>, work: string): Promise<string> {
    const src = join(work, `src-${readdirSync(work).length}`);
    for (const [file, content] of Object.entries(files)) {
        mkdirSync(join(src, file, ".."), { recursive: true });
        writeFileSync(join(src, file), content);
    }
    await git(src, ["init", "-q", "-b", "main"]);
    await git(src, ["add", "."]);
    await git(src, ["commit", "-qm", "stand-in"]);
    mkdirSync(bare, { recursive: true });
    await git(bare, ["init", "-q", "--bare"]);
    await git(bare, ["config", "receive.unpackLimit", "100000"]);
    await git(bare, ["config", "uploadpack.allowFilter", "true"]);
    await git(src, ["push", "-q", bare, "main"]);
    return (await git(src, ["rev-parse", "HEAD"])).stdout.trim();
}

/** The files of a .tar.gz, sorted, with their contents. */
async function tarball(file: string, work: string): Promise<Record<string, string>> {
    const dir = makeTempDir("pr-upstream-x-", work);
    await run("tar", ["-xzf", file, "-C", dir]);
    const listed = (await run("find", [".", "-type", "f"], { cwd: dir })).stdout.trim().split("\n").sort();
    return Object.fromEntries(listed.map((f) => [f.slice(2), readFileSync(join(dir, f), "utf8")]));
}

describe("upstream sources: a local snapshot, else a git fetch of the pinned commit", () => {
    let work: string;
    let cache: string;
    let sources: Source[];
    let upstreamCommit: string;
    const FILES = {
        Dockerfile: "FROM scratch\n",
        "dist/index.html": "<html>ui</html>\n",
        "nginx/default.conf": "server { listen 80; }\n",
        "sdk/cmd/host/main.go": "package main\n",
        "tests/big.bin": "not wanted\n",
    };

    before(async () => {
        work = makeTempDir("pr-upstream-");
        cache = join(work, "cache");
        sources = await catalogue();
        upstreamCommit = await standInRepository(join(work, "upstream.git"), FILES, work);
    });

    after(async () => {
        await runCleanups();
    });

    /** scripts/upstream.sh with a private cache and, unless given, an empty folder of snapshots. */
    const upstream = (args: string[], env: NodeJS.ProcessEnv = {}) =>
        run("bash", [SCRIPT, ...args], {
            allowFailure: true,
            timeoutMs: 120_000,
            env: { ...process.env, PULUMI_ENGINE_CACHE: cache, PRIVATE_REGISTRY_VENDOR: join(work, "no-snapshots"), ...env },
        });

    it("names each source by a full commit id; each local snapshot records that commit (git get-tar-commit-id)", async (t) => {
        assert.deepEqual(sources.map((s) => s.name).sort(), ["acme", "acme-tf", "command", "langhost", "ui"]);
        const folder = (
            await upstream(["--vendor-dir"], { PRIVATE_REGISTRY_VENDOR: process.env.PRIVATE_REGISTRY_VENDOR ?? "" })
        ).stdout.trim();
        for (const source of sources) {
            const file = join(folder, source.file);
            if (!existsSync(file)) {
                t.diagnostic(`${file}: no local snapshot to compare`);
                continue;
            }
            const id = (await run("sh", ["-c", 'gzip -dc "$1" | git get-tar-commit-id', "sh", file], { allowFailure: true })).stdout.trim();
            // A snapshot of a subtree (langhost) records no commit.
            if (id) assert.equal(id, source.commit, `${source.file} was archived from ${id}, the catalogue pins ${source.commit}`);
        }
    });

    it("a snapshot in PRIVATE_REGISTRY_VENDOR is used as it is, without git", async () => {
        const folder = join(work, "snapshots");
        mkdirSync(folder);
        const ui = sources.find((s) => s.name === "ui")!;
        writeFileSync(join(folder, ui.file), "local");
        const found = await upstream(["ui"], { PRIVATE_REGISTRY_VENDOR: folder, PRIVATE_REGISTRY_UPSTREAM_GIT: "file:///nonexistent" });
        assert.equal(found.code, 0, found.stderr);
        assert.equal(found.stdout.trim(), join(folder, ui.file));
    });

    it("an unknown name is an error naming the known ones, and fetches nothing", async () => {
        const unknown = await upstream(["docker-registry-ui"], { PRIVATE_REGISTRY_UPSTREAM_GIT: "file:///nonexistent" });
        assert.equal(unknown.code, 1);
        assert.equal(unknown.stdout, "");
        assert.match(unknown.stderr, /unknown upstream source 'docker-registry-ui' \(known: command acme acme-tf langhost ui \)/);
        assert.doesNotMatch(unknown.stderr, /fetching/);
    });

    it("fetches the pinned commit: the wanted paths under the top directory, nothing else", async () => {
        const out = join(cache, "paths.tar.gz");
        const fetched = await upstream(["--fetch", `file://${work}/upstream.git`, upstreamCommit, "ui", ".", "Dockerfile dist nginx", out]);
        assert.equal(fetched.code, 0, fetched.stderr);
        assert.deepEqual(await tarball(out, work), {
            "ui/Dockerfile": FILES["Dockerfile"],
            "ui/dist/index.html": FILES["dist/index.html"],
            "ui/nginx/default.conf": FILES["nginx/default.conf"],
        });
        const subtree = join(cache, "subtree.tar.gz");
        const sub = await upstream(["--fetch", `file://${work}/upstream.git`, upstreamCommit, "host", "sdk/cmd/host", "", subtree]);
        assert.equal(sub.code, 0, sub.stderr);
        assert.deepEqual(await tarball(subtree, work), { "host/main.go": FILES["sdk/cmd/host/main.go"] });
    });

    it("refuses a commit the repository does not have (a moved tag, rewritten history), and caches nothing", async () => {
        const out = join(cache, "absent.tar.gz");
        const other = "0123456789abcdef0123456789abcdef01234567";
        const fetched = await upstream(["--fetch", `file://${work}/upstream.git`, other, "ui", ".", "", out]);
        assert.notEqual(fetched.code, 0);
        assert.match(fetched.stderr, new RegExp(`no commit ${other} there.*refused`));
        assert.ok(!existsSync(out));
    });

    it("a named source fetched from a repository whose content has another commit id is refused, and nothing is cached", async () => {
        // The same files as the pinned UI release, in a repository at the UI's path: another commit id.
        const ui = sources.find((s) => s.name === "ui")!;
        await standInRepository(join(work, "github", ui.repository), FILES, work);
        const fetched = await upstream(["ui"], { PRIVATE_REGISTRY_UPSTREAM_GIT: `file://${work}/github` });
        assert.notEqual(fetched.code, 0);
        assert.match(fetched.stderr, new RegExp(`no commit ${ui.commit} there`));
        assert.match(fetched.stderr, /ui: not in .* and not fetched from upstream/);
        assert.deepEqual(
            readdirSync(join(cache, "upstream")).filter((f) => !f.startsWith(".")),
            [],
        );
    });

    it("refuses content that does not hash to the ids the commit names (a tampered blob), and caches nothing", async () => {
        const bare = join(work, "tampered.git");
        const commit = await standInRepository(bare, FILES, work);
        const blob = (await git(bare, ["rev-parse", `${commit}:dist/index.html`])).stdout.trim();
        const data = Buffer.from("<html>something else</html>\n");
        // The loose object file for that id now holds another blob.
        writeFileSync(
            join(bare, "objects", blob.slice(0, 2), blob.slice(2)),
            deflateSync(Buffer.concat([Buffer.from(`blob ${data.length}\0`), data])),
        );
        const out = join(cache, "tampered.tar.gz");
        const fetched = await upstream(["--fetch", `file://${bare}`, commit, "ui", ".", "dist", out]);
        assert.notEqual(fetched.code, 0, fetched.stdout);
        assert.match(fetched.stderr, /refused/);
        assert.ok(!existsSync(out));
    });
});
