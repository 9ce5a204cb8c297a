// %prometheus and %config: set where the notebook's Prometheus is (secrets by environment variable name only), and
// show every connection setting with where it came from (lib/notebook-config.ts holds them).
import { existsSync } from 'node:fs';
import { MagicError } from '../kernel/io/errors';
import type { Magic } from './registry';
import { textValue } from './registry';
import { maskUrl, NotebookConfig, PrometheusSettings } from './lib/notebook-config';

function envName(value: string, what: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new MagicError(`${what} takes the NAME of an environment variable, not "${value.length > 12 ? `${value.slice(0, 4)}…` : value}"`, 'export the secret in the environment the kernel starts from, then pass its name');
  return value;
}

function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MagicError(`not a URL: ${maskUrl(url)}`, 'write it like http://127.0.0.1:9090');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new MagicError(`Prometheus URL must be http or https: ${maskUrl(url)}`);
  return url.replace(/\/+$/, '');
}

export function prometheusMagic(config: NotebookConfig): Magic {
  return {
    name: 'prometheus',
    summary: 'use this Prometheus for the rest of the notebook (secrets by environment variable name)',
    kind: 'line',
    positional: { name: 'url', description: 'http(s)://host:port of the Prometheus server', required: true },
    options: [
      { name: 'bearer-token-env', type: 'string', valueName: 'VAR', description: 'send the token held in environment variable VAR' },
      { name: 'basic-auth-env', type: 'string', valueName: 'USER_VAR:PASS_VAR', description: 'basic auth from two environment variables' },
      { name: 'ca', type: 'string', valueName: 'FILE', description: 'trust this CA certificate (PEM) for https' },
      { name: 'insecure', type: 'boolean', description: 'do not verify the server certificate (https)' },
    ],
    run: async ({ args }) => {
      const o = args.options;
      const settings: Omit<PrometheusSettings, 'source'> = { url: checkUrl(args.rest) };
      if (typeof o['bearer-token-env'] === 'string') settings.bearerTokenEnv = envName(o['bearer-token-env'], '--bearer-token-env');
      if (typeof o['basic-auth-env'] === 'string') {
        const [user, password] = o['basic-auth-env'].split(':');
        if (!user || !password) throw new MagicError('--basic-auth-env takes USER_VAR:PASS_VAR, two environment variable names');
        settings.basicAuthEnv = { user: envName(user, '--basic-auth-env'), password: envName(password, '--basic-auth-env') };
      }
      if (typeof o.ca === 'string') {
        if (!existsSync(o.ca)) throw new MagicError(`CA file not found: ${o.ca}`);
        settings.caFile = o.ca;
      }
      if (o.insecure === true) settings.insecure = true;
      if (settings.bearerTokenEnv && settings.basicAuthEnv) throw new MagicError('choose one of --bearer-token-env and --basic-auth-env');
      config.setPrometheus(settings);
      return textValue(`Prometheus for this notebook: ${maskUrl(settings.url as string)}`);
    },
  };
}

export function configMagic(config: NotebookConfig): Magic {
  return {
    name: 'config',
    summary: 'show where the ops magics connect and where each setting comes from',
    kind: 'line',
    options: [{ name: 'reset', type: 'boolean', description: "forget this notebook's settings (%prometheus...) and use the environment's" }],
    run: async ({ args }) => {
      if (args.options.reset === true) config.reset();
      return textValue(config.describe().join('\n'));
    },
  };
}
