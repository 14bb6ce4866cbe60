import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import {defineConfig} from 'vite';

// `base: './'` makes every asset URL relative to index.html, so the same build works at
// `/app/`, `{base_url}sqlrooms/app/` and behind JupyterHub's `/user/<name>/`.
export default defineConfig({
  base: './',
  plugins: [react(), tailwindcss()],
  build: {
    outDir: '../../sqlrooms_jupyter/static/app',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
});
