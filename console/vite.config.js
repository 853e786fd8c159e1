// The console is served by keel at /admin/ (src/keel/console), so it is built into that package.
import { fileURLToPath } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'

export default defineConfig({
  base: '/admin/',
  plugins: [vue()],
  define: {
    __VUE_I18N_FULL_INSTALL__: false,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __VUE_PROD_DEVTOOLS__: false,
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: false,
  },
  build: {
    outDir: fileURLToPath(new URL('../src/keel/console/dist', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: {
        // Element Plus and Vue change less often than the console's pages: a chunk of their own
        // stays cached across console releases.
        manualChunks: { vendor: ['vue', 'vue-router', 'vue-i18n', 'element-plus'] },
      },
    },
  },
  server: {
    // `npm run dev` against a `keel serve` on :8000 (the API and the console's config).
    proxy: Object.fromEntries(
      ['/admin/config.json', '/shop', '/fitness', '/badge', '/queue', '/coach'].map((path) => [
        path,
        'http://127.0.0.1:8000',
      ]),
    ),
  },
})
