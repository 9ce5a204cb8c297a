// %deploy: deploy an image as a service on the notebook's engine. The options and what they mean live here; the
// spec (deploy/spec.ts) checks them before anything is created; a DeployRun (deploy/run.ts) holds the lock, the
// progress display and the audit record around the local cutover (deploy/cutover.ts) or the Swarm update
// (deploy/swarm-deploy.ts); --strategy canary moves requests in steps judged by Prometheus (deploy/rollout.ts), its
// queries asked once (deploy/measure.ts) before anything starts; `--analysis proxy-errors<1%` and friends are built-in
// queries on the proxy's metrics (deploy/proxy-analyses.ts); the rollout ends with a summary and a chart (deploy/
// rollout-report.ts), which shares the notebook's plotly.js with %promql. --cleanup (deploy/cleanup.ts) removes what failed deploys left; --dry-run only says.
// %%deploy <service> is the same with one option a line below (deploy/cell-form.ts).
import type { Magic, MagicCall } from '../registry';
import type { DockerConnection } from './engine/connection';
import { deployCellOf } from './deploy/cell-form';
import { cleanupService } from './deploy/cleanup';
import { confirmDeploy } from './deploy/confirm';
import { failureLimitOption } from './deploy/canary';
import { cutover } from './deploy/cutover';
import { MetricsSource, checkAnalyses } from './deploy/measure';
import { DeployRun, recordRefused, withDeployRun } from './deploy/run';
import { localImageId, versionOf } from './deploy/service';
import { withBuiltinAnalyses } from './deploy/proxy-analyses';
import { PlotlyLibrary } from '../plotly-library';
import { DEFAULT_KEEP, DEFAULT_PROXY_IMAGE, deploySpecOf, isProtected, keepOption, planText } from './deploy/spec';
import { requireManager } from './deploy/swarm';
import { swarmUpdate } from './deploy/swarm-deploy';
import { UsageError } from '../../kernel/io/errors';
import { serviceFilter } from './engine/labels';
import { NotebookConfig } from '../lib/notebook-config';

const DEPLOY_OPTIONS: Magic['options'] = [
  { name: 'name', type: 'string', valueName: 'service', description: 'the service to deploy to (required)' },
  { name: 'publish', short: 'p', type: 'list', valueName: '[IP:]HOST:CONTAINER', description: 'publish a port through the service\'s proxy (repeatable); 127.0.0.1:8080:8080 keeps it on loopback' },
  { name: 'env', short: 'e', type: 'list', valueName: 'K=V', description: 'an environment variable (repeatable)' },
  { name: 'env-file', type: 'string', valueName: 'file', description: 'environment variables from a file, one K=V per line' },
  { name: 'secret-env', type: 'list', valueName: 'K=ENVVAR', description: "K gets the value of the kernel's environment variable ENVVAR; masked everywhere" },
  { name: 'health-cmd', type: 'string', valueName: 'command', description: 'healthy when this command exits 0 inside the container' },
  { name: 'health-url', type: 'string', valueName: 'path', description: 'healthy when GET path answers 2xx/3xx (first -p port)' },
  { name: 'wait', type: 'string', valueName: 'duration', description: 'how long the new version may take to get healthy (default 60s)' },
  { name: 'keep', type: 'number', valueName: 'n', description: 'stopped old versions kept for %rollback (default 5)', parse: keepOption },
  { name: 'drain', type: 'string', valueName: 'duration', description: 'how long the old version may finish in-flight requests after the switch (default 30s)' },
  { name: 'proxy-image', type: 'string', valueName: 'image', description: `the proxy's image (default $OPSBOOK_PROXY_IMAGE, else ${DEFAULT_PROXY_IMAGE})` },
  { name: 'swarm', type: 'boolean', description: 'deploy as a Docker Swarm service: rolling start-first update, rolled back by Swarm on failure' },
  { name: 'replicas', type: 'number', valueName: 'n', description: 'with --swarm: how many tasks (default 1)' },
  { name: 'lock-wait', type: 'string', valueName: 'duration', description: 'how long to wait for another deploy of the service to finish (default 30s)' },
  { name: 'confirm', type: 'boolean', description: 'ask before deploying (headless runs then need --yes)' },
  { name: 'yes', short: 'y', type: 'boolean', description: 'do not ask' },
  { name: 'dry-run', type: 'boolean', description: 'show what would happen, change nothing' },
  { name: 'strategy', type: 'string', valueName: 'canary|bluegreen', description: 'canary: move requests to the new version in --steps; bluegreen: all at once, the old version kept running for --hold; judged by --analysis, rolled back automatically on failure' },
  { name: 'steps', type: 'string', valueName: 'P%[:D],...', description: 'with --strategy canary: the share of requests the new version gets and how long each holds, e.g. 10%:2m,50%:2m,100%' },
  { name: 'hold', type: 'string', valueName: 'duration', description: 'with --strategy bluegreen: how long the analyses judge the new version, the old one kept running to switch back to (default 2m)' },
  { name: 'analysis', type: 'list', valueName: '"name: PromQL op threshold"', description: 'with --strategy: a condition on one PromQL value (op < <= > >=), measured every --interval (repeatable); built-in on the proxy\'s metrics: proxy-errors<1%, proxy-latency<300ms' },
  { name: 'interval', type: 'string', valueName: 'duration', description: 'with --strategy: how often each analysis is measured (default 15s)' },
  { name: 'failure-limit', type: 'number', valueName: 'n', description: 'with --strategy: failed measurements tolerated; one more rolls back (default 0: the first)', parse: failureLimitOption },
  { name: 'inconclusive', type: 'string', valueName: 'pass|fail', description: 'with --strategy: a step (or the hold) with no conclusive measurement (no data, NaN) fails (default) or passes' },
  { name: 'cleanup', type: 'boolean', description: "remove what failed or interrupted deploys of --name left: candidates, a dead kernel's lock, old stopped versions beyond --keep" },
];

const DEPLOY_POSITIONAL: Magic['positional'] = { name: 'image', description: 'the image to run (built with %build); %%deploy: the service, then one item a line below: image REF, --option value, or an analysis as PromQL' };

function textBundle(text: string): object {
  return { [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': text }) };
}

async function cleanup(call: MagicCall, o: Record<string, unknown>, connection: DockerConnection): Promise<object> {
  const service = o.name;
  if (typeof service !== 'string') throw new UsageError('%deploy --cleanup needs --name <service>');
  const keep = typeof o.keep === 'number' ? o.keep : DEFAULT_KEEP;
  const { docker } = await connection.engine();
  // the lock is a created container: any image the service already has will do
  const anyImage = (await docker.listContainers({ all: true, filters: serviceFilter(service) }))[0]?.ImageID;
  if (!anyImage) return textBundle(`nothing to clean up for ${service}: it has no containers on this engine`);
  const done = await cleanupService(docker, service, keep, anyImage, call.io.signal);
  return textBundle(done.length === 0 ? `nothing to clean up for ${service}` : `cleaned up ${service}:\n${done.map((r) => `  ${r}`).join('\n')}`);
}

/**
 * `config`: where the analyses of a canary are measured (%prometheus, else PROMETHEUS_URL); `plotly`: the notebook's
 * plotly.js, shared with %promql so a notebook carries it once.
 */
export function deployMagic(connection: DockerConnection, env: NodeJS.ProcessEnv = process.env, config: NotebookConfig = new NotebookConfig(env), plotly: PlotlyLibrary = new PlotlyLibrary()): Magic {
  return {
    name: 'deploy',
    summary: 'deploy an image as a service: health-gated cutover, the old version kept serving on failure, audited',
    kind: 'both',
    positional: DEPLOY_POSITIONAL,
    options: DEPLOY_OPTIONS,
    run: async (call) => {
      const { image, options: given } = call.body === undefined ? { image: call.args.rest, options: call.args.options } : deployCellOf(call.args, call.body, { options: DEPLOY_OPTIONS, positional: DEPLOY_POSITIONAL });
      if (given.cleanup === true) return cleanup(call, given, connection);
      // built-in analyses become queries on the new version's proxy metrics, then are checked like any other
      const o = typeof given.name === 'string' ? withBuiltinAnalyses(given, { service: given.name, version: versionOf(image) }) : given;
      const spec = deploySpecOf(image, o, env);
      if (o['dry-run'] === true) return textBundle(planText(spec));
      const metrics: MetricsSource = { settings: config.prometheus(), env };
      // every query asked once now: one that does not parse or answers several series stops the deploy before it starts
      if (spec.canary) await checkAnalyses(metrics, spec.canary.analyses, call.io.signal);
      if (o.confirm === true || isProtected(spec.service, env)) await confirmDeploy(call, spec);
      const { docker, target } = await connection.engine();
      if (o.swarm === true) await requireManager(docker, target.shown);
      const kind = o.swarm === true ? 'deploy (swarm)' : spec.canary ? `deploy (${spec.canary.strategy})` : spec.kind;
      const imageId = await localImageId(docker, spec.image).catch((e: Error) => recordRefused(docker, call.io, spec, kind, e));
      const run = new DeployRun(docker, call.io, spec, imageId, kind);
      const replicas = typeof o.replicas === 'number' ? o.replicas : 1;
      return withDeployRun(run, () => (o.swarm === true ? swarmUpdate(run, replicas, call.bound) : cutover(run, call.bound, { metrics, charts: { plotly, ...(call.io.cellId === undefined ? {} : { owner: call.io.cellId }) } })));
    },
  };
}
