// The magics a kernel starts with, registered in one registry that shares one notebook configuration.
import { MagicRegistry } from './registry';
import { NotebookConfig, configMagic, prometheusMagic } from './config';
import { lsmagic } from './builtin';
import { shellMagic } from './shell';
import { promqlMagic } from './promql/magic';
import { DockerConnection, dockerMagic } from './docker/connection';
import { buildMagic } from './docker/build';

export interface Magics {
  registry: MagicRegistry;
  config: NotebookConfig;
}

export function createMagics(env: NodeJS.ProcessEnv = process.env): Magics {
  const registry = new MagicRegistry();
  const config = new NotebookConfig(env);
  registry.register(lsmagic(registry));
  registry.register(shellMagic);
  registry.register(configMagic(config));
  registry.register(prometheusMagic(config));
  registry.register(promqlMagic(config, undefined, env));
  const docker = new DockerConnection(config, env);
  registry.register(dockerMagic(config, docker));
  registry.register(buildMagic(docker, env));
  return { registry, config };
}
