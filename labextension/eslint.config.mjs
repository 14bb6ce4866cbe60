import js from '@eslint/js';
import jupyterPlugin from '@jupyter/eslint-plugin';
import prettierRecommended from 'eslint-plugin-prettier/recommended';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules',
      'app/node_modules',
      'app/vite.config.ts',
      'lib',
      'coverage',
      '**/*.js',
      '**/*.mjs',
      '**/*.d.ts'
    ]
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    plugins: { jupyter: jupyterPlugin }
  },
  jupyterPlugin.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      globals: { ...globals.browser, ...globals.es2020 },
      parserOptions: {
        project: 'tsconfig.test.json',
        sourceType: 'module'
      }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: { regex: '^I[A-Z]', match: true }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-namespace': 'off',
      // The UI is in English only for now: no ITranslator plumbing yet.
      'jupyter/no-untranslated-string': 'off',
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error'
    }
  },
  {
    // The SQLRooms app (labextension/app): React in a page of its own, no Lumino.
    files: ['app/src/**/*.ts', 'app/src/**/*.tsx'],
    languageOptions: {
      parserOptions: { project: 'app/tsconfig.json' }
    },
    rules: {
      'jupyter/require-disposable-transfer': 'off',
      // A Vite bundle of its own: JupyterLab's deferred packages do not apply.
      'jupyter/prefer-lazy-imports': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'none', argsIgnorePattern: '^_' }
      ]
    }
  },
  {
    // Tests dispose what they create in afterEach, which the rule cannot see.
    files: ['src/__tests__/**'],
    rules: { 'jupyter/require-disposable-transfer': 'off' }
  },
  prettierRecommended
);
