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
  registry.register(promqlMagic(config, undefined, env));
  const docker = new DockerConnection(config, env);
  registry.register(dockerMagic(config, docker));
  registry.register(buildMagic(docker, env));
  registry.register(psMagic(docker));
  registry.register(logsMagic(docker));
  registry.register(stopMagic(docker));
  registry.register(deployMagic(docker, env));
  registry.register(rollbackMagic(docker, env));
  registry.register(historyMagic(docker));
  return { registry, config };
}
