// %%deploy, the cell form: the first line names the service, the lines below hold the image, options and analyses
// (PromQL as written, no quotes); read through the real registry and the %deploy magic with --dry-run (nothing
// touches an engine), and the usage errors that name the line.
import { MagicRegistry } from '../../magics/registry';
import { deployMagic } from '../../magics/docker/deploy';
import { deployCellOf } from '../../magics/docker/deploy/cell-form';
import { DockerConnection } from '../../magics/docker/engine/connection';
import { NotebookConfig } from '../../magics/lib/notebook-config';
import { expandMagicLines } from '../../kernel/executor/cell-thread/magic-lines';
import { UsageError } from '../../kernel/io/errors';
import type { Io } from '../../kernel/io/io';

const env: NodeJS.ProcessEnv = { OPSBOOK_PROXY_IMAGE: 'opsbook/haproxy:local' };
const magic = deployMagic(new DockerConnection(new NotebookConfig(env), env), env);
const registry = new MagicRegistry();
registry.register(magic);
const spec = { options: magic.options, positional: magic.positional };

function textOf(value: unknown): string {
  const show = (value as Record<symbol, () => Record<string, string>>)[Symbol.for('Jupyter.display')];
  return show()['text/plain'];
}

const cell = (text: string, body: string) => registry.run({ name: 'deploy', text, body, cell: true, help: false, bound: false }, {} as Io);

const ERRORS = "sum(rate(http_requests_total{service='api',code=~'5..'}[1m])) / sum(rate(http_requests_total{service='api'}[1m])) < 0.01";

describe('%%deploy <service>: one item a line', () => {
  test('reads as the line form: the image, options, PromQL analyses without quotes; blank lines and comments skipped', async () => {
    const body = [
      'image shop/api:2',
      '-p 8080:8080',
      '',
      '# a canary judged by Prometheus',
      '--strategy canary',
      '--steps 10%:2m,50%:2m,100%',
      '--interval 15s --failure-limit 2',
      `errors: ${ERRORS}`,
      '  p95: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="api"}[1m]))) < 300ms  ',
      '-e A=1',
      '-e B=2',
    ].join('\n');
    const plan = textOf(await cell('api --dry-run', body));
    expect(plan).toMatch(/^would deploy shop\/api:2 to api:/);
    expect(plan).toContain('  canary: 10% for 120.0 s, 50% for 120.0 s, 100%, then promotion');
    expect(plan).toContain(`  analysis errors: ${ERRORS.replace(/ < 0\.01$/, '')} < 0.01, every 15.0 s`);
    expect(plan).toContain('  analysis p95: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="api"}[1m]))) < 300ms, every 15.0 s');
    expect(plan).toContain('failed measurement number 3');
    expect(plan).toContain('  environment: A, B');
  });

  test('the same options as the line form gives', () => {
    const first = { options: { yes: true }, rest: 'api', words: ['api', '--yes'] };
    const { image, options } = deployCellOf(first, 'image shop/api:2\n-p 8080:8080\n--strategy bluegreen\n--hold 30s\n--analysis "p: vector(1) > 0"\nerrors: vector(0) < 1', spec);
    expect(image).toBe('shop/api:2');
    expect(options).toEqual({ name: 'api', yes: true, publish: ['8080:8080'], strategy: 'bluegreen', hold: '30s', analysis: ['p: vector(1) > 0', 'errors: vector(0) < 1'] });
  });

  test('--cleanup needs no image', () => {
    expect(deployCellOf({ options: {}, rest: 'api', words: ['api'] }, '--cleanup', spec)).toEqual({ image: '', options: { name: 'api', cleanup: true } });
  });

  test.each([
    ['no service', '', 'image a:1', /^%%deploy: name the service on the first line/],
    ['--name', 'api --name web', 'image a:1', /^%%deploy: the service is named by the first line's word \(api\), not by --name$/],
    ['no image', 'api', '-p 8080:8080', /^%%deploy api: no image line below the first/],
    ['an unknown option, with its line', 'api', 'image a:1\n\n--stepz 10%', /^%%deploy line 4: unknown option '--stepz' \(did you mean --steps\?\)/],
    ['a stray word on an option line', 'api', 'image a:1\n-p 8080:8080 extra', /^%%deploy line 3: "extra" is not an option/],
    ['an option without its value', 'api', 'image a:1\n--steps', /^%%deploy line 3: option '--steps <P%\[:D\],...>' argument missing/],
    ['two images', 'api', 'image a:1\nimage a:2', /^%%deploy line 3: a second image \(a:2\); the cell deploys one, a:1$/],
    ['an image line without the image', 'api', 'image', /^%%deploy line 2: an image line names the image/],
  ])('usage error: %s', (_what, first, body, message) => {
    const words = first === '' ? [] : first.split(' ');
    const parsed = { options: first.includes('--name') ? { name: 'web' } : {}, rest: words.filter((w) => !w.startsWith('-') && w !== 'web').join(' '), words };
    let thrown: unknown;
    try {
      deployCellOf(parsed, body, spec);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as Error).message).toMatch(message);
  });

  test('the first line holds one word besides its options: the service', async () => {
    await expect(cell('api shop/api:2', 'image a:1')).rejects.toThrow(/^%deploy: too many arguments/);
    await expect(cell('--dry-run', 'image a:1')).rejects.toThrow(/^%%deploy: name the service on the first line/);
  });

  test('an analysis line is judged as --analysis is: a bad one is its usage error', async () => {
    await expect(cell('api --dry-run', 'image a:1\n-p 8080:8080\n--strategy canary\n--steps 10%\nerrors: vector(1) == 1')).rejects.toThrow('--analysis errors: unknown comparison "=="');
  });

  test('the kernel interpolates ${expr} in the body as in every magic, PromQL braces untouched', () => {
    const code = expandMagicLines("%%deploy api --yes\nimage shop/api:${version}\nerrors: sum(rate(x{code=~'5..'}[1m])) < 0.01");
    expect(code).toContain("body: `\nimage shop/api:${version}\nerrors: sum(rate(x{code=~'5..'}[1m])) < 0.01`.slice(1)");
    expect(code).toContain('cell: true');
  });
});
