import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.s3rver/**', 'openapi/**', 'test/support/api-types.ts'] },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      curly: 'error',
      eqeqeq: 'error',
    },
  },
  {
    // TypeScript (src, test, migrations): the type-checked recommended rules, with type information from tsconfig.json.
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
    },
  },
  {
    // Layering (the rest is in .dependency-cruiser.cjs): operations know no HTTP, so nothing HTTP-only from @nestjs/common.
    files: ['src/operations/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nestjs/common'],
              importNamePattern:
                '^(Http.*|.*Exception|Controller|Get|Post|Put|Patch|Delete|Head|Options|All|Sse|Req|Request|Res|Response|Body|Param|Query|Headers|Ip|HostParam|Redirect|Render|Header|UseGuards|UseFilters|UseInterceptors|UsePipes)$',
              message: 'Operations know no HTTP: throw a ContentError (or a domain error) and let the caller map it.',
            },
          ],
        },
      ],
    },
  },
  {
    // JavaScript (bench, scripts, the tool configs, the /ui page) has no types to check: ESLint's recommended rules.
    files: ['**/*.{js,cjs,mjs}'],
    extends: [js.configs.recommended],
  },
  {
    files: ['**/*.{js,cjs,mjs}'],
    ignores: ['src/ui/assets/**'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
  {
    // The /ui page's script runs in the browser as a classic script.
    files: ['src/ui/assets/**/*.js'],
    languageOptions: { sourceType: 'script', globals: globals.browser },
  },
);
