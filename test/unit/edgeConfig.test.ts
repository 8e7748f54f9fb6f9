/** nginx.conf as a reviewer sees it (snapshots), plus the properties it must keep. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { BRIDGE_EDGE } from "../support/fixtures";
import { matchSnapshot } from "../support/snapshot";

describe("edge nginx.conf", () => {
    it("edge nginx.conf, bridge network", () => {
        const conf = renderEdgeConfig(BRIDGE_EDGE);
        matchSnapshot("edge-bridge.nginx.conf", conf);
        assert.match(conf, /client_max_body_size 0;/);
        assert.match(conf, /proxy_request_buffering off;/);
        assert.match(conf, /ssl_protocols TLSv1\.2 TLSv1\.3;/);
        assert.match(conf, /proxy_set_header Host \$http_host;/);
        assert.match(conf, /proxy_set_header X-Forwarded-Proto \$scheme;/);
        assert.match(conf, /return 301 "https:\/\/\$host:8443\$request_uri";|return 301 https:\/\/\$host:8443\$request_uri;/);
        assert.doesNotMatch(conf, /listen \[::\]/, "no IPv6 listener inside a bridge network");
        const v2 = conf.slice(conf.indexOf("location /v2/"));
        assert.match(v2.slice(0, v2.indexOf("}")), /Strict-Transport-Security/, "HSTS survives the location's own add_header");
        // What a client says about the host or port never reaches the registry's URL builder.
        assert.match(conf, /proxy_set_header Forwarded "";/);
        assert.match(conf, /proxy_set_header X-Forwarded-Host \$http_host;/);
        assert.match(conf, /proxy_set_header X-Forwarded-Port 8443;/);
        assert.doesNotMatch(conf, /proxy_add_x_forwarded_for/);
        const ui = conf.slice(conf.lastIndexOf("location / {"));
        for (const header of [
            "X-Frame-Options DENY",
            `Content-Security-Policy "frame-ancestors 'none'"`,
            "X-Content-Type-Options nosniff",
            "Referrer-Policy same-origin",
            "Strict-Transport-Security",
        ]) {
            assert.ok(ui.slice(0, ui.indexOf("}")).includes(`add_header ${header}`), `the UI gets ${header}`);
        }
    });

    it("edge nginx.conf, host network, UI on its own name", () => {
        const conf = renderEdgeConfig({
            ...BRIDGE_EDGE,
            uiServerName: "ui.registry.lan",
            listenHttpsPort: 8443,
            listenHttpPort: 8080,
            listenIpv6: true,
            registry: { address: "127.0.0.1:5000" },
            ui: { address: "127.0.0.1:5080" },
        });
        matchSnapshot("edge-host-cors.nginx.conf", conf);
        assert.match(conf, /upstream registry_backend \{\n\s+server 127\.0\.0\.1:5000;\n\s+keepalive 32;/);
        assert.doesNotMatch(conf, /resolver/);
        assert.match(conf, /server_name ui\.registry\.lan;/);
        const preflight = conf.slice(conf.indexOf("if ($request_method = OPTIONS)"));
        assert.match(preflight.slice(0, preflight.indexOf("}")), /add_header Strict-Transport-Security/, "HSTS on the preflight reply too");
        const ui = conf.slice(conf.indexOf("server_name ui.registry.lan;"));
        assert.match(ui, /add_header X-Frame-Options DENY always;/);
        assert.match(ui, /add_header Content-Security-Policy "frame-ancestors 'none'" always;/);
    });

    it("edge nginx.conf: blob files only with filesystem storage mounted, and only for a plain GET of a sha256 blob", () => {
        assert.doesNotMatch(renderEdgeConfig(BRIDGE_EDGE), /registry_blob/, "no storage root: every request proxied");
        assert.doesNotMatch(
            renderEdgeConfig({ ...BRIDGE_EDGE, registryBlobRoot: "/var/lib/registry", tuning: { serveBlobFiles: false } }),
            /registry_blob/,
        );
        const conf = renderEdgeConfig({ ...BRIDGE_EDGE, registryBlobRoot: "/var/lib/registry/" });
        assert.match(conf, /alias \/var\/lib\/registry\/docker\/registry\/v2\/blobs\/;/);
        const key = /map "([^"]+)" \$registry_blob_file \{\n\s+"~([^"]+)"/.exec(conf);
        assert.ok(key, "the map from request to file");
        assert.equal(
            key[1],
            "$request_method:$http_range:$http_if_match$http_if_none_match$http_if_modified_since$http_if_unmodified_since$http_if_range:$request_uri",
        );
        const pattern = new RegExp(key[2].replace(/\(\?<\w+>/g, "("));
        const hex = "ab".repeat(32);
        for (const [request, served] of [
            [`GET:::/v2/team/app/blobs/sha256:${hex}`, true],
            [`GET:bytes=100-::/v2/library/nginx/blobs/sha256:${hex}`, true],
            [`GET:bytes=0-9::/v2/a__b/c-d/blobs/sha256:${hex}`, true],
            [`HEAD:::/v2/team/app/blobs/sha256:${hex}`, false],
            [`DELETE:::/v2/team/app/blobs/sha256:${hex}`, false],
            [`GET:bytes=0-1,5-6::/v2/team/app/blobs/sha256:${hex}`, false],
            [`GET::"sha256:${hex}":/v2/team/app/blobs/sha256:${hex}`, false],
            [`GET:::/v2/team/app/blobs/sha256:${hex}?x=1`, false],
            [`GET:::/v2/team/../app/blobs/sha256:${hex}`, false],
            [`GET:::/v2/team/%61pp/blobs/sha256:${hex}`, false],
            [`GET:::/v2/Team/app/blobs/sha256:${hex}`, false],
            [`GET:::/v2/team/app/blobs/sha512:${hex}${hex}`, false],
            [`GET:::/v2/team/app/manifests/sha256:${hex}`, false],
        ] as const) {
            assert.equal(pattern.test(request), served, request);
        }
        // The check is internal, a HEAD of the very same URL, and any refusal is proxied.
        assert.match(conf, /location = \/_registry_blob_check \{\n\s+internal;/);
        assert.match(conf, /proxy_method HEAD;/);
        assert.match(conf, /proxy_pass \$registry_backend\$request_uri;/);
        assert.match(conf, /error_page 401 403 404 416 500 502 503 504 = @registry_blob_proxied;/);
    });

    it("quotes values nginx would otherwise split", () => {
        assert.match(renderEdgeConfig(BRIDGE_EDGE), /proxy_set_header Connection "";/);
    });

    it("edge nginx.conf with registry replicas: one upstream, a server line each", () => {
        const conf = renderEdgeConfig({
            ...BRIDGE_EDGE,
            registry: { address: "127.0.0.1:5000", moreAddresses: ["127.0.0.1:5001"] },
            ui: { address: "127.0.0.1:5080" },
        });
        assert.match(conf, /upstream registry_backend \{\n\s+server 127\.0\.0\.1:5000;\n\s+server 127\.0\.0\.1:5001;\n\s+keepalive 32;/);
        assert.match(conf, /upstream ui_backend \{\n\s+server 127\.0\.0\.1:5080;\n\s+keepalive 32;/);
        assert.throws(
            () => renderEdgeConfig({ ...BRIDGE_EDGE, registry: { ...BRIDGE_EDGE.registry, moreAddresses: ["registry2:5000"] } }),
            /moreAddresses needs a static upstream/,
        );
    });

    it("edge nginx.conf with a backup server: last, marked backup, and no server ever counted down", () => {
        const conf = renderEdgeConfig({
            ...BRIDGE_EDGE,
            registry: { address: "unix:/run/a.sock", moreAddresses: ["unix:/run/b.sock"], backupAddress: "unix:/run/ro.sock" },
        });
        assert.match(
            conf,
            /upstream registry_backend \{\n\s+server unix:\/run\/a\.sock max_fails=0;\n\s+server unix:\/run\/b\.sock max_fails=0;\n\s+server unix:\/run\/ro\.sock backup max_fails=0;\n\s+keepalive 32;\n\s+keepalive_time 1s;/,
        );
        assert.throws(
            () => renderEdgeConfig({ ...BRIDGE_EDGE, registry: { ...BRIDGE_EDGE.registry, backupAddress: "registry-ro:5000" } }),
            /backupAddress needs a static upstream/,
        );
    });
});
