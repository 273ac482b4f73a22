import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import Components from 'unplugin-vue-components/vite'
import { defineConfig, type Plugin } from 'vite'

const apiTarget = process.env.ZD_API ?? 'http://127.0.0.1:8000'

/**
 * Swagger UI for the API docs page (public/api-docs/, served at /api/docs/): its prebuilt bundle
 * and stylesheet are copied from swagger-ui-dist as they are, so that the page needs no CDN.
 */
function swaggerUiAssets(): Plugin {
  const require = createRequire(import.meta.url)
  return {
    name: 'zd-swagger-ui-assets',
    apply: 'build',
    generateBundle() {
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
        const source = readFileSync(require.resolve(`swagger-ui-dist/${file}`))
        this.emitFile({ type: 'asset', fileName: `api-docs/${file}`, source })
      }
    },
  }
}

// PC console for command centres and administrators, served at /console/ by the API process.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [
    vue(),
    // Element Plus components are imported on demand (with their styles) from the templates
    Components({ resolvers: [ElementPlusResolver({ importStyle: 'css' })], dts: false, dirs: [] }),
    swaggerUiAssets(),
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
