import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', '**/dist/', 'data/', 'coverage/', 'scratch/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      // Matching control characters is how CR/LF and NUL are kept out of headers and addresses.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', {
        object: 'process',
        property: 'env',
        message: 'Read configuration through src/config only.',
      }],
    },
  },
  {
    files: ['src/config/**', 'scripts/**', 'bench/**', 'test/**', 'examples/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['public/**/*.js'],
    languageOptions: {
      globals: { document: 'readonly', fetch: 'readonly', EventSource: 'readonly', location: 'readonly', setTimeout: 'readonly' },
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
)
