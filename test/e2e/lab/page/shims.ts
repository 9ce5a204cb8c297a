// What some of JupyterLab's dependencies expect from Node (a `process` with `env` and `cwd()`, as the path polyfill
// uses), injected by the bundler wherever a module reads the free variable `process`.
export const process = { env: { NODE_ENV: 'production' } as Record<string, string | undefined>, cwd: (): string => '/' };
