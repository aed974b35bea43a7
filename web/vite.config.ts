/// <reference types="vitest/config" />
// Vite builds the UI into dist/ (served by `vibe serve`); in development it proxies the API and the
// WebSocket to a running `vibe serve` (VIBE_DEV_API, default http://127.0.0.1:8080).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const api = process.env.VIBE_DEV_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/api/ws': { target: api, ws: true },
      '/api': { target: api },
      '/apps': { target: api },
    },
  },
  build: { outDir: 'dist', sourcemap: false },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test-setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
