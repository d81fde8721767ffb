import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by the API at /console (api/console.ts). `npx vite console` runs a dev server that
// proxies the API to a running `npm start` on port 3000.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    // No inline scripts or styles: the console works under a strict Content-Security-Policy.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: { proxy: { '/v1': 'http://localhost:3000' } },
});
