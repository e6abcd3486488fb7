// Vite build of the console: a static bundle in dist/ that the chat-gateway serves at /.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const gateway = 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // `pnpm dev` talks to a gateway running locally (REST and the live stream).
    proxy: {
      '/api': { target: gateway, changeOrigin: true, ws: true },
    },
  },
});
