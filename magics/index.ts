// The magics a kernel starts with, registered in one registry that shares one notebook configuration.
import { MagicRegistry } from './registry';
import { NotebookConfig } from './lib/notebook-config';
import { configMagic, prometheusMagic } from './config';
import { lsmagic, stopHereMagic } from './builtin';
import { shellMagic } from './shell';
import { promqlMagic } from './promql/magic';
import { DockerConnection } from './docker/engine/connection';
import { dockerMagic } from './docker/docker';
import { buildMagic } from './docker/build';
import { psMagic } from './docker/ps';
import { logsMagic } from './docker/logs';
import { stopMagic } from './docker/stop';
import { deployMagic } from './docker/deploy';
import { rollbackMagic } from './docker/rollback';
import { historyMagic } from './docker/history';
import { PlotlyLibrary } from './plotly-library';

export interface Magics {
  registry: MagicRegistry;
  config: NotebookConfig;
}

export function createMagics(env: NodeJS.ProcessEnv = process.env): Magics {
  const registry = new MagicRegistry();
  const config = new NotebookConfig(env);
  registry.register(lsmagic(registry));
  registry.register(shellMagic);
  registry.register(stopHereMagic);
  registry.register(configMagic(config));
  registry.register(prometheusMagic(config));
  // one plotly.js per notebook: the first chart carries it, whichever magic draws it (%promql, a canary's %deploy)
  const plotly = new PlotlyLibrary();
  registry.register(promqlMagic(config, plotly, env));
  // every Docker magic reports an engine lost mid-work as one line (DockerConnection.guard)
  const docker = new DockerConnection(config, env);
  registry.register(dockerMagic(config, docker));
  registry.register(docker.guard(buildMagic(docker, env)));
  registry.register(docker.guard(psMagic(docker)));
  registry.register(docker.guard(logsMagic(docker)));
  registry.register(docker.guard(stopMagic(docker)));
  registry.register(docker.guard(deployMagic(docker, env, config, plotly)));
  registry.register(docker.guard(rollbackMagic(docker, env)));
  registry.register(docker.guard(historyMagic(docker)));
  return { registry, config };
}
