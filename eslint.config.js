// ESLint flat config: typescript-eslint's type-aware recommended rules over every TypeScript file
// tsconfig.json covers (src, test, bench, examples). The promise rules are the point: a promise nobody
// awaits or catches turns a failure into an unhandled rejection (which ends the process), and an async
// function handed to a slot that ignores its result (an event listener, a timer callback) does the same.
// `npm run lint` runs it with --max-warnings 0 and `npm test` runs `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // Build output and reports, plus the few plain-JS config files (no type information for them).
    ignores: ['dist/', 'docs/api/', 'coverage/', 'bench/results/', '**/*.js', '**/*.mjs', '**/*.cjs'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Named explicitly (recommendedTypeChecked has them too) so that a later preset change cannot
      // drop them silently. checksVoidReturn stays on: no async function where a void callback goes.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Passing on what was caught or what a signal was aborted with (`reject(signal.reason)`, both
      // `unknown`/`any` by type) is propagation, not a non-Error rejection; a literal non-Error
      // (`reject('timeout')`) is still reported. Same stance as only-throw-error's defaults.
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // An `async` function with no `await` is deliberate here: it implements a promise-returning
      // interface (close(), health(), a test double) and `async` turns anything it throws into a
      // rejection. Dropping `async` to satisfy this rule would make those throws synchronous, the very
      // fault the two promise rules above exist to prevent.
      '@typescript-eslint/require-await': 'off',
      // `let x; const f = () => x.y; x = make(f);` cannot become a const: a closure reads it first.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // A leading underscore marks a parameter kept for its position or a property destructured away
      // on purpose (`const { auth: _auth, ...rest } = options`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // Test files only. The promise rules stay on here as everywhere.
    files: ['test/**/*.ts'],
    rules: {
      // The raw helpers (test/node/raw-http.ts, support.ts) hand back a real server's parsed JSON as
      // `any`, vitest's asymmetric matchers (expect.stringMatching, expect.any) are `any`, and code
      // inside page.$$eval runs in the browser, whose DOM types this Node project does not load. The
      // expect() around each use is the check of its shape: a wrong one fails the test.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // Tests destructure close() and friends from their own fixtures' plain objects and pass methods
      // to expect(); neither uses `this`. src/ keeps the rule: a public type that is shown destructured
      // declares a property, not a method.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
