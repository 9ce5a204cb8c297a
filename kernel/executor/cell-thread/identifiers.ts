// Identifier and member-chain patterns (Unicode identifiers, `a.b?.c` chains) shared by the scanner,
// completion and inspection.

export const ID = '[\\p{ID_Start}$_][\\p{ID_Continue}$\\u200C\\u200D]*';
export const IDENTIFIER = new RegExp(`^${ID}$`, 'u');
export const ID_CHAR = /[\p{ID_Continue}$\u200C\u200D]/u;
/** A member chain `a.b?.c` ending in a (possibly empty) identifier, at the end of the text. */
export const CHAIN = new RegExp(`((?:${ID}\\s*\\??\\.\\s*)*)(${ID})?$`, 'u');
/** Text ending in a member access `.` or `?.` (not a spread `...`). */
export const MEMBER_DOT = /(?<!\.)\??\.$/;
export const ID_RIGHT = /^[\p{ID_Continue}$\u200C\u200D]*/u;
/** How far back a member chain is looked for (keeps the `$`-anchored regex linear on long cells). */
export const CHAIN_WINDOW = 1000;
