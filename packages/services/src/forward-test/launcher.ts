/**
 * Remote strategy runners: with `FT_RUNNER=external` or `kubernetes`, a session's strategy runs in its
 * own process (`algotrade runner --session <id>`), which publishes its signals on `strategy-signals`;
 * the forward-test service executes them. A launcher starts and stops those processes.
 */
export interface RunnerLauncher {
  /** Ensures the session's runner is running (idempotent: a runner that already exists is kept). */
  start(session: { id: string; userId: string; symbol: string }): Promise<void>;
  /** Stops and removes the session's runner (idempotent). */
  stop(sessionId: string): Promise<void>;
}

/** `FT_RUNNER=external`: runners are started by someone else (a supervisor, a shell); nothing to do. */
export const externalLauncher: RunnerLauncher = {
  async start() {},
  async stop() {},
};

export interface KubernetesRunnerOptions {
  namespace: string;
  image: string;
  /** CPU and memory limits of a runner pod (requests are a quarter of the CPU, half the memory) */
  cpu: string;
  memory: string;
  /** ConfigMap and Secret the pod takes its environment from (deploy/k8s ships both) */
  configMap: string;
  secret: string;
  serviceAccount: string;
}

export const DEFAULT_KUBERNETES_RUNNER: KubernetesRunnerOptions = {
  namespace: 'algotrade',
  image: 'algotrade:latest',
  cpu: '250m',
  memory: '256Mi',
  configMap: 'algotrade-config',
  secret: 'algotrade-secrets',
  serviceAccount: 'algotrade-runner',
};

export const SESSION_LABEL = 'algotrade.io/session';

/** A fraction of a CPU (250m, 1) or memory (256Mi, 1Gi) quantity: requests derived from limits. */
function fraction(q: string, f: number): string {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi)?$/.exec(q);
  if (!m) return q;
  const n = Number(m[1]);
  if (!m[2]) return `${Math.max(1, Math.round(n * 1000 * f))}m`; // cores -> millicores
  if (m[2] === 'm') return `${Math.max(1, Math.round(n * f))}m`;
  const mi = m[2] === 'Gi' ? n * 1024 : m[2] === 'Ki' ? n / 1024 : n;
  return `${Math.max(1, Math.round(mi * f))}Mi`;
}

/**
 * The Job that runs one session's strategy: restarted on failure, removed 10 minutes after it ends,
 * non-root, resource-limited, labelled by session and user (how the launcher finds it again).
 */
export function runnerJob(o: KubernetesRunnerOptions, s: { id: string; userId: string; symbol: string }) {
  const labels = {
    'app.kubernetes.io/name': 'strategy-runner',
    'app.kubernetes.io/part-of': 'algotrade',
    [SESSION_LABEL]: s.id,
    'algotrade.io/user': s.userId,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      // a fresh name per start: a Job from before a pause may still be terminating
      name: `runner-${s.id.slice(0, 36)}-${Date.now().toString(36)}`.toLowerCase().slice(0, 63),
      namespace: o.namespace,
      labels,
      annotations: { 'algotrade.io/symbol': s.symbol },
    },
    spec: {
      backoffLimit: 10,
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'OnFailure',
          serviceAccountName: o.serviceAccount,
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'runner',
              image: o.image,
              args: ['runner', '--session', s.id],
              envFrom: [{ configMapRef: { name: o.configMap } }, { secretRef: { name: o.secret } }],
              env: [{ name: 'LOG_LEVEL', value: 'info' }],
              resources: {
                requests: { cpu: fraction(o.cpu, 0.25), memory: fraction(o.memory, 0.5) },
                limits: { cpu: o.cpu, memory: o.memory },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

/** One readable sentence from a Kubernetes API error (its Status object), for logs and session reasons. */
function explain(e: unknown): Error {
  const x = e as { code?: number; body?: unknown; message?: string };
  if (typeof x.code !== 'number') return e as Error;
  let status: { reason?: string; message?: string } = {};
  try {
    status = typeof x.body === 'string' ? JSON.parse(x.body) : ((x.body as typeof status) ?? {});
  } catch {
    /* not a Status object */
  }
  return new Error(
    `the Kubernetes API answered ${x.code} ${status.reason ?? ''}: ${status.message ?? x.message}`.trim(),
  );
}

/**
 * `FT_RUNNER=kubernetes`: one Job per running session through the Kubernetes API
 * (@kubernetes/client-node; in-cluster service account, else KUBECONFIG or ~/.kube/config).
 */
export async function kubernetesLauncher(o: KubernetesRunnerOptions): Promise<RunnerLauncher> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const api = kc.makeApiClient(k8s.BatchV1Api);
  const selector = (id: string) => `${SESSION_LABEL}=${id}`;
  const ensure = async (s: { id: string; userId: string; symbol: string }) => {
    const existing = await api.listNamespacedJob({ namespace: o.namespace, labelSelector: selector(s.id) });
    // a Job that is still active keeps running the session (a restart of the service, a resume)
    const finished = (j: (typeof existing.items)[number]) =>
      j.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    if (existing.items.some((j) => !j.metadata?.deletionTimestamp && !finished(j))) return;
    await api.createNamespacedJob({ namespace: o.namespace, body: runnerJob(o, s) });
  };
  return {
    async start(s) {
      await ensure(s).catch((e: unknown) => {
        throw explain(e);
      });
    },
    async stop(id) {
      await api
        .deleteCollectionNamespacedJob({
          namespace: o.namespace,
          labelSelector: selector(id),
          propagationPolicy: 'Background',
        })
        .catch((e: unknown) => {
          throw explain(e);
        });
    },
  };
}
