import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { parse, parseAllDocuments } from 'yaml';
import { AppConfig } from '../src/config/app-config';
import { TestApp, startTestApp } from './support/test-app';

const ROOT = join(__dirname, '..');
const DEPLOY = join(ROOT, 'deploy');
// The Dockerfile runs the image as the `node` user of the official Node images, uid/gid 1000.
const NODE_USER_ID = 1000;

interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  initContainers?: Container[];
  containers: Container[];
  volumes?: { name: string; emptyDir?: object }[];
}

interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> } | Record<string, string>;
    template?: PodTemplate;
    backoffLimit?: number;
    ttlSecondsAfterFinished?: number;
    minAvailable?: number;
    ports?: { name?: string; port: number; targetPort: string | number }[];
  };
}

interface Workload {
  deployment: Manifest;
  pod: PodTemplate;
  container: Container;
  /** The environment the container sees: ConfigMaps and Secrets it loads, then its own env. */
  env: Record<string, string>;
}

function loadManifests(): { file: string; manifest: Manifest }[] {
  return readdirSync(DEPLOY)
    .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml')
    .sort()
    .flatMap((file) => {
      const documents = parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8'));
      const list = Array.isArray(documents) ? documents : [documents];
      return list.map((document) => {
        if (document.errors.length > 0) {
          throw new Error(`deploy/${file} does not parse: ${document.errors.map((error) => error.message).join('; ')}`);
        }
        return { file, manifest: document.toJS() as Manifest };
      });
    })
    .filter(({ manifest }) => manifest !== null);
}

/** Names in KEY=value lines of .env.example, commented-out ones included (they are documented, just unset by default). */
function documentedVariables(): Set<string> {
  const names = readFileSync(join(ROOT, '.env.example'), 'utf8')
    .split('\n')
    .map((line) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
  return new Set(names);
}

/** Variables Node.js itself reads, which a manifest may set per role. */
const NODE_VARIABLES = ['NODE_OPTIONS'];

/** The variables the process reads: the keys of the zod object in src/config/app-config.ts, and Node's own. */
function variablesTheAppReads(): Set<string> {
  const source = readFileSync(join(ROOT, 'src', 'config', 'app-config.ts'), 'utf8');
  const schema = /const envSchema = z\.object\(\{([\s\S]*?)\n\}\);/.exec(source);
  expect(schema).not.toBeNull();
  return new Set([...[...schema![1]!.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((match) => match[1]!), ...NODE_VARIABLES]);
}

function portNumber(container: Container, port: string | number): number {
  if (typeof port === 'number') {
    return port;
  }
  const declared = container.ports?.find((candidate) => candidate.name === port);
  expect({ container: container.name, port, declared: declared !== undefined }).toEqual({
    container: container.name,
    port,
    declared: true,
  });
  return declared!.containerPort;
}

function probesOf(container: Container): [string, Probe][] {
  return (['startupProbe', 'readinessProbe', 'livenessProbe'] as const).map((kind) => [kind, container[kind]!]);
}

function preStopSeconds(container: Container): number {
  const preStop = container.lifecycle?.preStop;
  if (!preStop) {
    return 0;
  }
  if (preStop.sleep) {
    return preStop.sleep.seconds;
  }
  const [command, seconds] = preStop.exec?.command ?? [];
  expect(command).toBe('sleep');
  return Number(seconds);
}

describe('Kubernetes manifests (deploy/)', () => {
  const manifests = loadManifests();
  const byKind = (kind: string) => manifests.filter(({ manifest }) => manifest.kind === kind).map(({ manifest }) => manifest);
  const configMaps = new Map(byKind('ConfigMap').map((manifest) => [manifest.metadata.name, manifest.data ?? {}]));
  const secrets = new Map(
    byKind('Secret').map((manifest) => [
      manifest.metadata.name,
      {
        ...Object.fromEntries(
          Object.entries(manifest.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]),
        ),
        ...(manifest.stringData ?? {}),
      },
    ]),
  );

  function environmentOf(container: Container): Record<string, string> {
    const env: Record<string, string> = {};
    for (const source of container.envFrom ?? []) {
      if (source.configMapRef) {
        expect({ configMap: source.configMapRef.name, defined: configMaps.has(source.configMapRef.name) }).toEqual({
          configMap: source.configMapRef.name,
          defined: true,
        });
        Object.assign(env, configMaps.get(source.configMapRef.name));
      }
      if (source.secretRef) {
        expect({ secret: source.secretRef.name, defined: secrets.has(source.secretRef.name) }).toEqual({
          secret: source.secretRef.name,
          defined: true,
        });
        Object.assign(env, secrets.get(source.secretRef.name));
      }
    }
    for (const variable of container.env ?? []) {
      if (variable.value !== undefined) {
        env[variable.name] = variable.value;
      }
    }
    return env;
  }

  function workload(role: 'api' | 'worker'): Workload {
    const found = byKind('Deployment').flatMap((deployment) =>
      deployment
        .spec!.template!.spec.containers.filter((container) =>
          container.env?.some((variable) => variable.name === 'APP_ROLE' && variable.value === role),
        )
        .map((container) => ({ deployment, pod: deployment.spec!.template!, container, env: environmentOf(container) })),
    );
    expect({ role, deployments: found.length }).toEqual({ role, deployments: 1 });
    return found[0]!;
  }

  const defaults = new AppConfig({});
  let api: Workload;
  let worker: Workload;
  let apiApp: TestApp;
  let workerApp: TestApp;
  let documentedPaths: string[];

  beforeAll(async () => {
    api = workload('api');
    worker = workload('worker');
    apiApp = await startTestApp({ APP_ROLE: 'api' });
    workerApp = await startTestApp({ APP_ROLE: 'worker' });
    const document = (await request(apiApp.baseUrl).get('/docs/json').expect(200)).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    documentedPaths = Object.entries(document.paths)
      .filter(([, methods]) => 'get' in methods)
      .map(([path]) => path);
  });

  afterAll(async () => {
    await apiApp?.close();
    await workerApp?.close();
  });

  it('parse, are namespace-less, and are exactly the resources kustomization.yaml lists', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(7);
    for (const { file, manifest } of manifests) {
      expect({ file, kind: typeof manifest.kind, name: typeof manifest.metadata?.name, namespace: manifest.metadata?.namespace }).toEqual({
        file,
        kind: 'string',
        name: 'string',
        namespace: undefined,
      });
    }
    const kustomization = parseAllDocuments(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8'));
    const { resources } = (Array.isArray(kustomization) ? kustomization[0] : kustomization)!.toJS() as { resources: string[] };
    expect([...resources].sort()).toEqual([...new Set(manifests.map(({ file }) => file))].sort());
    expect(new Set(manifests.map(({ manifest }) => manifest.kind))).toEqual(
      new Set(['ConfigMap', 'Secret', 'Deployment', 'Service', 'PodDisruptionBudget']),
    );
  });

  it('give the API and the worker a configuration the application accepts, in their roles', () => {
    const apiConfig = new AppConfig(api.env);
    const workerConfig = new AppConfig(worker.env);
    expect(apiConfig.role).toBe('api');
    expect(workerConfig.role).toBe('worker');
    expect(apiConfig.runsWorker).toBe(false);
    expect(workerConfig.runsApi).toBe(false);
  });

  it('reference only variables the application reads and .env.example documents', () => {
    const documented = documentedVariables();
    const read = variablesTheAppReads();
    expect(read.size).toBeGreaterThan(10);
    const referenced = new Set([
      ...[...configMaps.values()].flatMap((data) => Object.keys(data)),
      ...[...secrets.values()].flatMap((data) => Object.keys(data)),
      ...byKind('Deployment').flatMap((manifest) =>
        [...(manifest.spec!.template!.spec.initContainers ?? []), ...manifest.spec!.template!.spec.containers].flatMap((container) =>
          (container.env ?? []).map((variable) => variable.name),
        ),
      ),
    ]);
    expect(referenced.size).toBeGreaterThan(5);
    expect([...referenced].filter((name) => !read.has(name))).toEqual([]);
    expect([...referenced].filter((name) => !documented.has(name))).toEqual([]);
  });

  it('probe the API on its container port, which is the port the application listens on by default', () => {
    const apiConfig = new AppConfig(api.env);
    expect(api.container.ports?.map((port) => port.containerPort)).toEqual([defaults.http.port]);
    expect(apiConfig.http.port).toBe(defaults.http.port);
    for (const [kind, probe] of probesOf(api.container)) {
      expect({ kind, port: portNumber(api.container, probe.httpGet!.port) }).toEqual({ kind, port: defaults.http.port });
    }
  });

  it('probe the worker on PROBE_PORT from the ConfigMap, which is the default probe port of the application', () => {
    const configured = Number(worker.env.PROBE_PORT);
    expect(configured).toBe(defaults.probePort);
    expect(new AppConfig(worker.env).probePort).toBe(configured);
    expect(worker.container.ports?.map((port) => port.containerPort)).toEqual([configured]);
    for (const [kind, probe] of probesOf(worker.container)) {
      expect({ kind, port: portNumber(worker.container, probe.httpGet!.port) }).toEqual({ kind, port: configured });
    }
  });

  it.each(['api', 'worker'] as const)(
    'probe %s pods on paths the application serves: live for liveness and startup, ready for readiness',
    async (role) => {
      const { container } = role === 'api' ? api : worker;
      const app = role === 'api' ? apiApp : workerApp;
      const paths = Object.fromEntries(probesOf(container).map(([kind, probe]) => [kind, probe.httpGet!.path]));
      // Liveness (and startup, which gates it) must not depend on PostgreSQL, Redis or S3, or an outage restarts every pod.
      expect(paths).toEqual({ startupProbe: '/health/live', readinessProbe: '/health/ready', livenessProbe: '/health/live' });
      for (const path of Object.values(paths)) {
        expect(documentedPaths).toContain(path);
        const response = await request(app.baseUrl).get(path);
        expect({ role, path, status: response.status }).toEqual({ role, path, status: 200 });
      }
      if (role === 'worker') {
        // A worker-only process serves the probes and nothing of the API.
        await request(app.baseUrl).get('/api/v1/status').expect(404);
      }
    },
  );

  it.each(['api', 'worker'] as const)(
    'let Prometheus scrape %s pods on the port and path the application serves metrics on',
    async (role) => {
      const { pod, container } = role === 'api' ? api : worker;
      const app = role === 'api' ? apiApp : workerApp;
      const annotations = pod.metadata.annotations ?? {};
      expect(annotations['prometheus.io/scrape']).toBe('true');
      expect(Number(annotations['prometheus.io/port'])).toBe(container.ports![0]!.containerPort);
      const response = await request(app.baseUrl).get(annotations['prometheus.io/path']!);
      expect({ role, status: response.status }).toEqual({ role, status: 200 });
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      expect(response.text).toMatch(/^# (HELP|TYPE) /m);
    },
  );

  it.each(['api', 'worker'] as const)('give %s pods longer to stop than the shutdown timeout plus the preStop pause', (role) => {
    const { pod, container, env } = role === 'api' ? api : worker;
    const shutdownTimeoutMs = new AppConfig(env).shutdownTimeoutMs;
    expect(Number(env.SHUTDOWN_TIMEOUT_MS)).toBe(shutdownTimeoutMs);
    const graceMs = pod.spec.terminationGracePeriodSeconds! * 1000;
    expect(graceMs).toBeGreaterThan(shutdownTimeoutMs + preStopSeconds(container) * 1000);
  });

  it.each(['api', 'worker'] as const)('run %s pods as the image user, read-only, with resources and a PodDisruptionBudget', (role) => {
    const { deployment, pod, container } = role === 'api' ? api : worker;
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^USER node$/m);
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: NODE_USER_ID });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    const tmp = container.volumeMounts?.find((mount) => mount.mountPath === '/tmp');
    expect(pod.spec.volumes?.find((volume) => volume.name === tmp?.name)?.emptyDir).toBeDefined();
    // The image's CMD (node dist/src/main.js) starts every role; APP_ROLE picks it.
    expect({ command: container.command, args: container.args }).toEqual({ command: undefined, args: undefined });
    expect(Object.keys(container.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container.resources?.limits ?? {})).toContain('memory');

    const podLabels = pod.metadata.labels;
    const selector = (deployment.spec!.selector as { matchLabels: Record<string, string> }).matchLabels;
    expect(podLabels).toMatchObject(selector);
    const budgets = byKind('PodDisruptionBudget').filter((budget) => {
      const labels = (budget.spec!.selector as { matchLabels: Record<string, string> }).matchLabels;
      return Object.entries(labels).every(([key, value]) => podLabels[key] === value);
    });
    expect(budgets).toHaveLength(1);
    // A budget that allows no disruption at all would block node drains.
    expect(budgets[0]!.spec!.minAvailable).toBeGreaterThanOrEqual(1);
    expect(budgets[0]!.spec!.minAvailable).toBeLessThan(deployment.spec!.replicas!);
  });

  it('expose the API through a Service on its named http port', () => {
    const services = byKind('Service');
    expect(services).toHaveLength(1);
    const service = services[0];
    expect(api.pod.metadata.labels).toMatchObject(service!.spec!.selector as Record<string, string>);
    expect(worker.pod.metadata.labels).not.toMatchObject(service!.spec!.selector as Record<string, string>);
    const [port] = service!.spec!.ports!;
    expect(portNumber(api.container, port!.targetPort)).toBe(defaults.http.port);
  });

  it.each(['api', 'worker'] as const)(
    'migrate before %s pods start: an init container runs the built migration entry point from the same image and configuration',
    (role) => {
      const { pod, container } = role === 'api' ? api : worker;
      // An init container, not a Job: the pod's containers start only after it succeeded, and no Job template has to change between versions.
      expect(byKind('Job')).toEqual([]);
      const initContainers = pod.spec.initContainers ?? [];
      expect(initContainers).toHaveLength(1);
      const [migrate] = initContainers;
      expect([...(migrate!.command ?? []), ...(migrate!.args ?? [])]).toEqual(['node', 'dist/src/migrate.js']);
      expect(existsSync(join(ROOT, 'src', 'migrate.ts'))).toBe(true);
      expect(existsSync(join(ROOT, 'dist', 'src', 'migrate.js'))).toBe(true);
      expect(readFileSync(join(ROOT, 'package.json'), 'utf8')).toContain('"migrate": "node dist/src/migrate.js"');
      expect(migrate!.image).toBe(container.image);
      expect(migrate!.envFrom).toEqual(container.envFrom);
      expect(() => new AppConfig(environmentOf(migrate!))).not.toThrow();
      expect(migrate!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(Object.keys(migrate!.resources?.limits ?? {})).toContain('memory');
    },
  );

  it.each(['api', 'worker'] as const)(
    'keep %s pods ready through a short blip: readiness fails only after three checks in a row',
    (role) => {
      const { container } = role === 'api' ? api : worker;
      expect(container.readinessProbe!.failureThreshold).toBeGreaterThanOrEqual(3);
    },
  );
});

interface ComposeService {
  image?: string;
  build?: string | { context: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  stop_grace_period?: string;
}

/** A compose duration such as 40s, 1m or 1m30s, in ms. */
function durationMs(duration: string): number {
  const parts = [...duration.matchAll(/(\d+)(ms|s|m)/g)];
  expect(parts.map(([part]) => part).join('')).toBe(duration);
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * { ms: 1, s: 1000, m: 60_000 }[unit as 'ms' | 's' | 'm'], 0);
}

describe('docker compose (docker-compose.yml)', () => {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const services = compose.services;
  const roles = { migrate: services.migrate, api: services.api, worker: services.worker };

  it('runs the migration, the API and the workers from one image, built from this repository', () => {
    const images = new Set(Object.values(roles).map((service) => service!.image));
    expect(images.size).toBe(1);
    expect([...images][0]).toMatch(/^[a-z0-9./-]+:[\w.-]+$/);
    for (const [name, service] of Object.entries(roles)) {
      expect({ name, build: service!.build }).toEqual({ name, build: '.' });
    }
    expect(services.migrate!.command).toEqual(['node', 'dist/src/migrate.js']);
    expect(services.api!.environment!.APP_ROLE).toBe('api');
    expect(services.worker!.environment!.APP_ROLE).toBe('worker');
  });

  it('pins every image it pulls to a release, MinIO to a dated one', () => {
    const pulled = Object.entries(services).filter(([, service]) => service.build === undefined);
    expect(pulled.length).toBeGreaterThanOrEqual(3);
    for (const [name, service] of pulled) {
      const tag = /:([^:/]+)$/.exec(service.image!)?.[1];
      expect({ name, tag, latest: tag === 'latest' || tag === undefined }).toEqual({ name, tag, latest: false });
      expect({ name, tag, hasVersion: /\d+\.\d+|^RELEASE\./.test(tag!) }).toEqual({ name, tag, hasVersion: true });
    }
    expect(services.minio!.image).toMatch(/^minio\/minio:RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
  });

  it.each(['api', 'worker'] as const)('gives %s containers longer to stop than the shutdown timeout before SIGKILL', (role) => {
    const service = services[role];
    const shutdownTimeoutMs = new AppConfig(service!.environment!).shutdownTimeoutMs;
    expect(service!.stop_grace_period).toBeDefined();
    expect(durationMs(service!.stop_grace_period!)).toBeGreaterThan(shutdownTimeoutMs);
  });

  it('signs presigned URLs for MinIO as the host reaches it (a published port on localhost), not as the containers do', () => {
    const config = new AppConfig(services.api!.environment!);
    const internal = new URL(config.s3.endpoint!);
    const publicEndpoint = new URL(config.s3.publicEndpoint!);
    expect(internal.hostname).toBe('minio');
    expect(publicEndpoint.hostname).toBe('localhost');
    expect(services.minio!.ports).toContain(`${publicEndpoint.port}:${internal.port}`);
    expect(new AppConfig(services.worker!.environment!).s3.publicEndpoint).toBe(config.s3.publicEndpoint);
  });

  it('sets only variables the application reads and .env.example documents', () => {
    const read = variablesTheAppReads();
    const documented = documentedVariables();
    const set = new Set(Object.values(roles).flatMap((service) => Object.keys(service!.environment ?? {})));
    expect(set.size).toBeGreaterThan(5);
    expect([...set].filter((name) => !read.has(name) || !documented.has(name))).toEqual([]);
    for (const service of Object.values(roles)) {
      expect(() => new AppConfig(service!.environment!)).not.toThrow();
    }
  });
});
