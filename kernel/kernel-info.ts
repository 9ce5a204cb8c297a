// The kernel_info_reply content: static facts about opsbook and its language.
import { PROTOCOL_VERSION } from './protocol/messages';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../package.json') as { version: string; homepage?: string };

export const KERNEL_VERSION = pkg.version;

export function kernelInfo(): Record<string, unknown> {
  return {
    status: 'ok',
    protocol_version: PROTOCOL_VERSION,
    implementation: 'opsbook',
    implementation_version: pkg.version,
    language_info: {
      name: 'typescript',
      version: '5.9',
      mimetype: 'text/typescript',
      file_extension: '.ts',
      pygments_lexer: 'typescript',
      codemirror_mode: { name: 'javascript', typescript: true },
      nbconvert_exporter: 'script',
    },
    banner: `opsbook ${pkg.version}: TypeScript for ops notebooks (Node.js ${process.version})`,
    debugger: false,
    help_links: [
      { text: 'TypeScript handbook', url: 'https://www.typescriptlang.org/docs/handbook/intro.html' },
      { text: 'Node.js API', url: `https://nodejs.org/docs/${process.version}/api/` },
    ],
    supported_features: [],
  };
}
