/**
 * Smoke check of the e2e support code, run by hand or before the e2e suite:
 *
 *   node --import tsx test/e2e/support.smoke.ts
 *
 * Not a *.test.ts file on purpose: it proves the machinery (private dockerd,
 * stand-in images, cleanup) works on this machine, so that an e2e failure
 * can be read as a failure of the stack, not of the harness. It leaves
 * nothing behind: no containers, no daemon, no temp dirs, no mounts.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { startDockerd, PrivateDockerd } from './support/dockerd';
import { describeError, makeTempDir, run, runCleanups, waitFor } from '../support/processes';
import { buildStandInImages, buildTestImage } from './support/standins';

const NAMES = {
  registry: 'registry:2.8.3',
  edge: 'nginx:1.28.0-alpine',
  ui: 'joxit/docker-registry-ui:2.5.7',
};
/** Distinct loopback addresses, as the e2e tests use them, so nothing collides with a service on 127.0.0.1. */
const REGISTRY_ADDR = '127.0.0.3:15000';
const EDGE_IP = '127.0.0.4';
const EDGE_PORT = 18443;
const UI_PORT = 18080;
const TLS_NAME = 'registry.smoke.test';

const timings: Record<string, number> = {};
async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
  const started = Date.now();
  process.stdout.write(`- ${label} ... `);
  const result = await step();
  timings[label] = Date.now() - started;
  process.stdout.write(`ok (${(timings[label] / 1000).toFixed(1)} s)\n`);
  return result;
}

interface Response {
  status: number;
  body: string;
}

function get(url: string, options: https.RequestOptions = {}): Promise<Response> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(url, { ...options, timeout: 5_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

async function expectStatus(url: string, status: number, options: https.RequestOptions = {}): Promise<Response> {
  return waitFor(`${url} to answer ${status}`, async () => {
    const response = await get(url, options);
    if (response.status !== status) throw new Error(`got ${response.status}: ${response.body.slice(0, 200)}`);
    return response;
  }, 20_000);
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

async function containerLogs(dockerd: PrivateDockerd, name: string): Promise<string> {
  const { stdout, stderr } = await dockerd.docker(['logs', name], { allowFailure: true, timeoutMs: 10_000 });
  return stdout + stderr;
}

async function main(): Promise<void> {
  const started = Date.now();
  const root = makeTempDir('e2e-smoke-');
  const dockerd = await timed('start private dockerd', () => startDockerd(path.join(root, 'dockerd')));
  const docker = dockerd.docker;

  await timed('build stand-in images', () => buildStandInImages(dockerd, NAMES, root));

  await timed('--network host with --add-host', async () => {
    const { stdout } = await docker([
      'run', '--rm', '--network', 'host', '--add-host', `${TLS_NAME}:127.0.0.2`,
      NAMES.registry, 'cat', '/etc/hosts',
    ]);
    assert(stdout.includes(`127.0.0.2\t${TLS_NAME}`), `--add-host entry missing in /etc/hosts:\n${stdout}`);
  });

  await timed('registry stand-in serves /v2/ and turns healthy', async () => {
    await docker([
      'run', '-d', '--name', 'smoke-registry', '--network', 'host',
      '-e', `REGISTRY_HTTP_ADDR=${REGISTRY_ADDR}`,
      '--health-cmd', `wget -q -O /dev/null http://${REGISTRY_ADDR}/v2/`,
      '--health-interval', '1s', '--health-retries', '30',
      NAMES.registry,
    ]);
    const response = await expectStatus(`http://${REGISTRY_ADDR}/v2/`, 200);
    assert(response.body.trim() === '{}', `unexpected /v2/ body ${response.body}`);
    await waitFor('smoke-registry to be healthy', async () => {
      const { stdout } = await docker(['inspect', '--format', '{{.State.Health.Status}}', 'smoke-registry']);
      if (stdout.trim() !== 'healthy') throw new Error(`health is ${stdout.trim()}; logs:\n${await containerLogs(dockerd, 'smoke-registry')}`);
      return true;
    }, 30_000, 500);
  });

  await timed('edge stand-in passes nginx -t with its default config', async () => {
    const { stdout, stderr } = await docker(['run', '--rm', '--network', 'host', NAMES.edge, 'nginx', '-t']);
    assert(/syntax is ok/.test(stdout + stderr) && /test is successful/.test(stdout + stderr), `nginx -t said:\n${stderr}`);
  });

  await timed('edge stand-in terminates TLS and proxies to the registry (files copied in like the stack does)', async () => {
    const tlsDir = path.join(root, 'tls');
    fs.mkdirSync(tlsDir);
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${TLS_NAME}`,
      '-addext', `subjectAltName=DNS:${TLS_NAME}`,
      '-keyout', path.join(tlsDir, 'tls.key'), '-out', path.join(tlsDir, 'tls.crt'),
    ]);
    fs.writeFileSync(path.join(tlsDir, 'nginx.conf'), edgeConfig());
    await docker(['create', '--name', 'smoke-edge', '--network', 'host', '--add-host', `registry.internal:${REGISTRY_ADDR.split(':')[0]}`, NAMES.edge]);
    for (const file of ['nginx.conf', 'tls.crt', 'tls.key']) {
      await docker(['cp', path.join(tlsDir, file), `smoke-edge:/etc/nginx/${file}`]);
    }
    await docker(['start', 'smoke-edge']);
    const ca = fs.readFileSync(path.join(tlsDir, 'tls.crt'));
    try {
      const response = await expectStatus(`https://${EDGE_IP}:${EDGE_PORT}/v2/`, 200, { ca, servername: TLS_NAME });
      assert(response.body.trim() === '{}', `unexpected body through the edge: ${response.body}`);
    } catch (error) {
      throw new Error(`${describeError(error)}\nedge logs:\n${await containerLogs(dockerd, 'smoke-edge')}`);
    }
  });

  await timed(`UI stand-in serves its page on NGINX_LISTEN_PORT=${UI_PORT}`, async () => {
    await docker([
      'run', '-d', '--name', 'smoke-ui', '--network', 'host',
      '-e', `NGINX_LISTEN_PORT=${UI_PORT}`,
      '-e', 'REGISTRY_TITLE=Smoke <Registry> & "co" | test',
      '-e', `NGINX_PROXY_PASS_URL=http://${REGISTRY_ADDR}`,
      NAMES.ui,
    ]);
    try {
      const page = await expectStatus(`http://127.0.0.1:${UI_PORT}/`, 200);
      assert(page.body.includes('id="repositories"') && page.body.includes("fetch('/v2/_catalog'"), 'UI page is not the stand-in');
      assert(page.body.includes('Smoke &lt;Registry&gt; &amp; &quot;co&quot; | test'), `title not substituted: ${page.body.slice(0, 300)}`);
      const catalog = await expectStatus(`http://127.0.0.1:${UI_PORT}/v2/_catalog`, 200);
      assert(JSON.parse(catalog.body).repositories !== undefined, `catalog through the UI proxy: ${catalog.body}`);
    } catch (error) {
      throw new Error(`${describeError(error)}\nui logs:\n${await containerLogs(dockerd, 'smoke-ui')}`);
    }
  });

  const image = await timed('build a 16 MiB test image', () =>
    buildTestImage(dockerd, `${REGISTRY_ADDR}/smoke/test:16m`, 16 * 1024 * 1024, path.join(root, 'images')),
  );
  await timed('push it to the registry stand-in over loopback', async () => {
    const { stdout } = await docker(['image', 'inspect', '--format', '{{.Size}}', image.name]);
    const size = Number(stdout.trim());
    assert(size >= 16 * 1024 * 1024 && size < 17 * 1024 * 1024, `image size ${size}`);
    await docker(['push', image.name], { timeoutMs: 120_000 });
    const catalog = await get(`http://${REGISTRY_ADDR}/v2/_catalog`);
    assert(catalog.body.includes('smoke/test'), `catalog after push: ${catalog.body}`);
  });

  const daemonPid = dockerd.pid;
  await timed('clean up', runCleanups);
  assert(!fs.existsSync(root), `${root} still exists`);
  assert(!fs.readFileSync('/proc/self/mounts', 'utf8').includes(root), `mounts under ${root} remain`);
  assert(!fs.existsSync(`/proc/${daemonPid}`) || fs.readFileSync(`/proc/${daemonPid}/stat`, 'utf8').includes(') Z'), 'dockerd still runs');
  const leftovers = (await run('ps', ['-eo', 'pid,args'])).stdout.split('\n').filter((line) => line.includes(root));
  assert(leftovers.length === 0, `processes left behind:\n${leftovers.join('\n')}`);

  console.log(`support smoke passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** What the stack's edge does in miniature: TLS on its own loopback address, /v2 proxied to the registry by name. */
function edgeConfig(): string {
  return `user nginx;
worker_processes 1;
error_log /var/log/nginx/error.log notice;
pid /var/run/nginx.pid;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    access_log /var/log/nginx/access.log;
    server {
        listen ${EDGE_IP}:${EDGE_PORT} ssl http2;
        server_name ${TLS_NAME};
        ssl_certificate /etc/nginx/tls.crt;
        ssl_certificate_key /etc/nginx/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        client_max_body_size 0;
        location /v2/ {
            proxy_pass http://registry.internal:${REGISTRY_ADDR.split(':')[1]};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
        }
    }
}
`;
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    console.error(`\nsupport smoke FAILED: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    await runCleanups().catch((cleanupError: unknown) => console.error(`cleanup also failed: ${describeError(cleanupError)}`));
    process.exit(1);
  },
);
