import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { templateById } from '@algotrade/strategy';
import { Job } from 'kubernetes-models/batch/v1';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../../../../test/helpers/app.ts';
import { until } from '../../../../test/helpers/wait.ts';
import { DEFAULT_KUBERNETES_RUNNER, kubernetesLauncher, runnerJob, SESSION_LABEL } from './launcher.ts';

/**
 * The Kubernetes runner adapter. No cluster exists here, so the Kubernetes API is a local HTTP server
 * that answers the Job endpoints as the API server does (list, create, delete-collection) and records
 * each request; the adapter talks to it through @kubernetes/client-node and a kubeconfig, as it would
 * to a cluster. Every Job it builds is validated against the Kubernetes schemas (kubernetes-models).
 */
interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body?: Record<string, unknown>;
}

const session = {
  id: '6f1c1e2a-4b7d-4a55-9a0e-2f8b3c1d9e77',
  userId: 'a2b3c4d5-0000-4000-8000-000000000001',
  symbol: 'BTCUSD',
};

describe('Kubernetes runner adapter', () => {
  let server: Server;
  let dir: string;
  const calls: Call[] = [];
  const jobs = new Map<string, Record<string, unknown>>(); // name -> job, as the "cluster" holds them
  let refuseCreate = false;
  const prevKubeconfig = process.env.KUBECONFIG;

  beforeAll(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      const url = new URL(req.url!, 'http://x');
      let raw = '';
      for await (const c of req) raw += c;
      const call: Call = { method: req.method!, path: url.pathname, query: url.searchParams };
      if (raw) call.body = JSON.parse(raw);
      calls.push(call);
      const m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs$/.exec(url.pathname);
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (!m) return send(404, { kind: 'Status', status: 'Failure', code: 404, reason: 'NotFound' });
      const selector = url.searchParams.get('labelSelector');
      const matches = (j: Record<string, unknown>) => {
        if (!selector) return true;
        const [k, v] = selector.split('=');
        return (j.metadata as { labels: Record<string, string> }).labels[k!] === v;
      };
      if (req.method === 'GET')
        return send(200, {
          kind: 'JobList',
          apiVersion: 'batch/v1',
          metadata: {},
          items: [...jobs.values()].filter(matches),
        });
      if (req.method === 'POST') {
        if (refuseCreate)
          return send(403, {
            kind: 'Status',
            status: 'Failure',
            code: 403,
            reason: 'Forbidden',
            message:
              'jobs.batch is forbidden: User "system:serviceaccount:algotrade:default" cannot create resource "jobs"',
          });
        const job = call.body!;
        jobs.set((job.metadata as { name: string }).name, job);
        return send(201, job);
      }
      if (req.method === 'DELETE') {
        for (const [name, j] of jobs) if (matches(j)) jobs.delete(name);
        return send(200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
      }
      send(405, {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    dir = mkdtempSync(path.join(tmpdir(), 'kube-'));
    const kubeconfig = `apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster:
      server: http://127.0.0.1:${port}
      insecure-skip-tls-verify: true
users:
  - name: tester
    user:
      token: test-token
contexts:
  - name: local
    context:
      cluster: local
      user: tester
current-context: local
`;
    writeFileSync(path.join(dir, 'config'), kubeconfig);
    process.env.KUBECONFIG = path.join(dir, 'config');
  });
  afterEach(() => {
    calls.length = 0;
    jobs.clear();
    refuseCreate = false;
  });
  afterAll(async () => {
    if (prevKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = prevKubeconfig;
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds a Job that passes the Kubernetes schema, limited, non-root and labelled by session', () => {
    const job = runnerJob(
      { ...DEFAULT_KUBERNETES_RUNNER, cpu: '1', memory: '1Gi', image: 'registry/algotrade:1.2' },
      session,
    );
    expect(() => new Job(job as never).validate()).not.toThrow();
    const pod = job.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.args).toEqual(['runner', '--session', session.id]);
    expect(c.image).toBe('registry/algotrade:1.2');
    expect(c.resources).toEqual({ requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } });
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(job.metadata.labels[SESSION_LABEL]).toBe(session.id);
    expect(job.spec.template.metadata.labels[SESSION_LABEL]).toBe(session.id);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(job.metadata.name.length).toBeLessThanOrEqual(63);
    expect(job.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    // the schema check is real: a Job without containers is refused
    const broken = structuredClone(job) as { spec: { template: { spec: { containers?: unknown } } } };
    delete broken.spec.template.spec.containers;
    expect(() => new Job(broken as never).validate()).toThrow();
  });

  it('creates one Job per session through the API, keeps an active one, deletes by session label', async () => {
    const launcher = await kubernetesLauncher(DEFAULT_KUBERNETES_RUNNER);
    await launcher.start(session);
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.path).toBe('/apis/batch/v1/namespaces/algotrade/jobs');
    expect(() => new Job(post.body as never).validate()).not.toThrow();
    // starting again (a service restart, a resume) while the Job is active creates nothing new
    calls.length = 0;
    await launcher.start(session);
    expect(calls.map((c) => c.method)).toEqual(['GET']);
    expect(calls[0]!.query.get('labelSelector')).toBe(`${SESSION_LABEL}=${session.id}`);
    await launcher.stop(session.id);
    const del = calls.find((c) => c.method === 'DELETE')!;
    expect(del.query.get('labelSelector')).toBe(`${SESSION_LABEL}=${session.id}`);
    expect(del.query.get('propagationPolicy')).toBe('Background');
    expect(jobs.size).toBe(0);
  });

  it('the forward-test service starts a Job when a session starts and deletes it when it stops', async () => {
    const t = await startTestApp({ FT_RUNNER: 'kubernetes', K8S_RUNNER_IMAGE: 'algotrade:test' });
    try {
      const u = await t.user();
      const call = (method: 'POST' | 'GET', url: string, payload?: object) =>
        t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
      const graph = templateById('sma-crossover')!.graph;
      const sid = (await call('POST', '/api/strategies', { name: 'k8s', graph })).json().id;
      const ft = (await call('POST', '/api/forward-tests', { strategyId: sid, symbol: 'BTCUSD' })).json();
      await until(async () => jobs.size === 1);
      const job = [...jobs.values()][0] as ReturnType<typeof runnerJob>;
      expect(job.spec.template.spec.containers[0]!.args).toEqual(['runner', '--session', ft.id]);
      expect(job.spec.template.spec.containers[0]!.image).toBe('algotrade:test');
      expect(job.metadata.labels['algotrade.io/user']).toBe(u.id);
      expect((await call('POST', `/api/forward-tests/${ft.id}/pause`)).statusCode).toBe(200);
      await until(async () => jobs.size === 0);
      expect((await call('POST', `/api/forward-tests/${ft.id}/resume`)).statusCode).toBe(200);
      await until(async () => jobs.size === 1);
      expect((await call('POST', `/api/forward-tests/${ft.id}/stop`)).statusCode).toBe(200);
      await until(async () => jobs.size === 0);

      // a cluster that refuses the Job: the session fails with the reason, it does not sit idle
      refuseCreate = true;
      const ft2 = (await call('POST', '/api/forward-tests', { strategyId: sid, symbol: 'BTCUSD' })).json();
      await until(async () => (await call('GET', `/api/forward-tests/${ft2.id}`)).json().status === 'failed');
      expect((await call('GET', `/api/forward-tests/${ft2.id}`)).json().failureReason).toMatch(
        /strategy runner could not start.*forbidden/i,
      );
    } finally {
      await t.stop();
    }
  });
});
