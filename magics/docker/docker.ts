// %docker: point the notebook's Docker magics at another engine (DOCKER_HOST syntax) and check that it answers.
import type { NotebookConfig } from '../lib/notebook-config';
import type { Magic } from '../registry';
import { textValue } from '../registry';
import { DockerConnection, dockerTarget } from './engine/connection';

export function dockerMagic(config: NotebookConfig, connection: DockerConnection): Magic {
  return {
    name: 'docker',
    summary: 'use this Docker engine for the rest of the notebook (DOCKER_HOST syntax), and check that it answers',
    kind: 'line',
    positional: { name: 'host', description: 'unix:///var/run/docker.sock, tcp://host:2376, ssh://user@host (none: show the current one)' },
    options: [],
    run: async ({ args }) => {
      if (args.rest !== '') {
        dockerTarget(args.rest); // a malformed host fails here, before it replaces the working one
        config.setDocker(args.rest);
      }
      const { docker, target } = await connection.engine();
      const version = await docker.version();
      return textValue(`Docker engine at ${target.shown}: ${version.Version} (API ${version.ApiVersion}, ${version.Os}/${version.Arch})`);
    },
  };
}
