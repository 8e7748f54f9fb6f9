/**
 * The two published nginx setups the stack is compared with, kept as text as published. Only what
 * must differ on this machine is substituted (certificate paths, listen address and port, the
 * upstream's address, the htpasswd path); the harness adds what it needs to run nginx outside
 * /etc and to measure it (pid, logs, temp dirs under the bench directory), marked as such.
 */
import { writeFileSync } from "fs";
import { join } from "path";
import type { Site } from "./network";
import { Bench, HOST, nginxDir, ProxyUnderTest, RegistryServer, startNginxAt, tlsEndpoint, USERS } from "./servers";

/** Where every bench nginx writes: never /var/log/nginx or /var/lib/nginx. */
function harnessHttpDirectives(dir: string): string {
    return [
        "    # Harness: logs and temp dirs in the bench directory, so spooling is measured and nothing lands in /var.",
        `    access_log ${join(dir, "access.log")};`,
        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `    ${kind}_temp_path ${join(dir, "temp", kind)};`),
    ].join("\n");
}

/**
 * Seed 000 puts its server block into the stock nginx.conf of its Debian VM; this is Debian 12's
 * /etc/nginx/nginx.conf http context (minus its includes and `user www-data`), then the post's
 * registry block as published. The post listens on 443 and sends `Host $host` (no port), so the
 * registry's upload URLs only work on 443: it gets 443 on an address of its own.
 */
export const SEED_ADDRESS = "127.0.0.2";

/** The certificate and key where a recipe's config names them. */
function certificateFiles(bench: Bench, dir: string): { certificatePath: string; privateKeyPath: string } {
    const paths = { certificatePath: join(dir, "server.crt"), privateKeyPath: join(dir, "server.key") };
    writeFileSync(paths.certificatePath, bench.pki.certificatePem);
    writeFileSync(paths.privateKeyPath, bench.pki.privateKeyPem, { mode: 0o600 });
    return paths;
}

function seedConf(dir: string, pki: { certificatePath: string; privateKeyPath: string }, registry: string): string {
    return `# Debian 12's stock nginx.conf around seed 000's registry server block.
worker_processes auto;
pid ${join(dir, "nginx.pid")};
error_log stderr warn;

events {
    worker_connections 768;
}

http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; # Dropping SSLv3, ref: POODLE
    ssl_prefer_server_ciphers on;
    gzip on;
${harnessHttpDirectives(dir)}

    # Seed 000, as published (paths, address and upstream port substituted).
    server {
        listen ${SEED_ADDRESS}:443 ssl;
        server_name ${HOST};

        ssl_certificate ${pki.certificatePath};
        ssl_certificate_key ${pki.privateKeyPath};

        location / {
            proxy_pass http://${registry};

            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;

            proxy_set_header Authorization $http_authorization;
            proxy_pass_request_headers on;
        }
    }
}
`;
}

/**
 * Seed 000's block in front of the registry with auth (its registry:2 runs with htpasswd), in
 * the host's namespace (`site`), where it gets 443 on an address of its own.
 */
export async function startSeed000(bench: Bench, site: Site, registry: RegistryServer): Promise<ProxyUnderTest> {
    const dir = nginxDir(bench, "seed-000");
    const conf = seedConf(dir, certificateFiles(bench, dir), registry.listen);
    // Its block listens on 443 only: the readiness probe's plain HTTP gets a 400 there, an answer.
    const nginx = await startNginxAt(bench, "seed-000", dir, conf, { ...site, address: SEED_ADDRESS }, 443);
    const user = ["-u", `${USERS.recipe.username}:${USERS.recipe.password}`];
    return { nginx, endpoint: tlsEndpoint(bench, SEED_ADDRESS, 443, user), registry };
}

/**
 * distribution/distribution docs/content/recipes/nginx.md, "Authenticate proxy with nginx": the
 * whole nginx.conf as published. nginx does the auth (bcrypt, `htpasswd -Bbn`) and the registry
 * behind it has none. The compose file publishes 5043:443 and the config forwards
 * `$http_host`, so any port works.
 */
function distributionRecipeConf(
    dir: string,
    pki: { certificatePath: string; privateKeyPath: string },
    listenPort: number,
    registry: string,
    htpasswdPath: string,
): string {
    return `# Harness: pid and error log outside /run and /var/log.
pid ${join(dir, "nginx.pid")};
error_log stderr warn;

events {
    worker_connections  1024;
}

http {
${harnessHttpDirectives(dir)}

  upstream docker-registry {
    server ${registry};
  }

  ## Set a variable to help us decide if we need to add the
  ## 'Docker-Distribution-Api-Version' header.
  ## The registry always sets this header.
  ## In the case of nginx performing auth, the header is unset
  ## since nginx is auth-ing before proxying.
  map $upstream_http_docker_distribution_api_version $docker_distribution_api_version {
    '' 'registry/2.0';
  }

  server {
    listen 127.0.0.1:${listenPort} ssl;
    # Harness: a plain-HTTP port for the readiness probe.
    listen 127.0.0.1:${listenPort + 1};
    server_name ${HOST};

    # SSL
    ssl_certificate ${pki.certificatePath};
    ssl_certificate_key ${pki.privateKeyPath};

    # Recommendations from https://raymii.org/s/tutorials/Strong_SSL_Security_On_nginx.html
    ssl_protocols TLSv1.1 TLSv1.2;
    ssl_ciphers 'EECDH+AESGCM:EDH+AESGCM:AES256+EECDH:AES256+EDH';
    ssl_prefer_server_ciphers on;
    ssl_session_cache shared:SSL:10m;

    # disable any limits to avoid HTTP 413 for large image uploads
    client_max_body_size 0;

    # required to avoid HTTP 411: see Issue #1486 (https://github.com/moby/moby/issues/1486)
    chunked_transfer_encoding on;

    location /v2/ {
      # Do not allow connections from docker 1.5 and earlier
      # docker pre-1.6.0 did not properly set the user agent on ping, catch "Go *" user agents
      if ($http_user_agent ~ "^(docker\\/1\\.(3|4|5(?!\\.[0-9]-dev))|Go ).*$" ) {
        return 404;
      }

      # To add basic authentication to v2 use auth_basic setting.
      auth_basic "Registry realm";
      auth_basic_user_file ${htpasswdPath};

      ## If $docker_distribution_api_version is empty, the header is not added.
      ## See the map directive above where this variable is defined.
      add_header 'Docker-Distribution-Api-Version' $docker_distribution_api_version always;

      proxy_pass                          http://docker-registry;
      proxy_set_header  Host              $http_host;   # required for docker client's sake
      proxy_set_header  X-Real-IP         $remote_addr; # pass on real client's IP
      proxy_set_header  X-Forwarded-For   $proxy_add_x_forwarded_for;
      proxy_set_header  X-Forwarded-Proto $scheme;
      proxy_read_timeout                  900;
    }
  }
}
`;
}

/** The Distribution recipe in front of the registry without auth, in the host's namespace. */
export async function startDistributionRecipe(bench: Bench, site: Site, registry: RegistryServer, port: number): Promise<ProxyUnderTest> {
    const dir = nginxDir(bench, "distribution-recipe");
    const conf = distributionRecipeConf(dir, certificateFiles(bench, dir), port, registry.listen, bench.nginxHtpasswdPath);
    const nginx = await startNginxAt(bench, "distribution-recipe", dir, conf, site, port + 1);
    const user = ["-u", `${USERS.recipe.username}:${USERS.recipe.password}`];
    return { nginx, endpoint: tlsEndpoint(bench, "127.0.0.1", port, user), registry };
}
