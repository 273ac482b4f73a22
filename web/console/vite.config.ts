import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import Components from 'unplugin-vue-components/vite'
import { defineConfig } from 'vite'

const apiTarget = process.env.ZD_API ?? 'http://127.0.0.1:8000'

// PC console for command centres and administrators, served at /console/ by the API process.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [
    vue(),
    // Element Plus components are imported on demand (with their styles) from the templates
    Components({ resolvers: [ElementPlusResolver({ importStyle: 'css' })], dts: false, dirs: [] }),
  ],
  resolve: {
    alias: {
      '@': fileURLToPath(new URL('./src', import.meta.url)),
      '@shared': fileURLToPath(new URL('../shared', import.meta.url)),
    },
  },
  build: {
    outDir: fileURLToPath(new URL('../../src/zhengding/web_dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2020',
    chunkSizeWarningLimit: 700,
  },
  server: {
    fs: { allow: ['..'] },
    proxy: {
      '/api': apiTarget,
      '/ws': { target: apiTarget, ws: true },
    },
  },
})
