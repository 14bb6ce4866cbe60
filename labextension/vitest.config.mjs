import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    environment: 'node',
    server: {
      deps: {
        // Published for bundlers (extensionless relative imports): let Vite resolve them.
        inline: [/@sqlrooms\//]
      }
    }
  }
});
