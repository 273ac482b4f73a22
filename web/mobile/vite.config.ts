import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { VantResolver } from '@vant/auto-import-resolver'
import Components from 'unplugin-vue-components/vite'
import { defineConfig, type Plugin } from 'vite'

const apiTarget = process.env.ZD_API ?? 'http://127.0.0.1:8000'

/**
 * Vant's icon font lists a CDN copy (at.alicdn.com) after its embedded data: font. The page's
 * Content-Security-Policy (font-src 'self' data:) blocks it and reports a violation, and the
 * platform must work without internet: the remote sources are dropped from the CSS at build.
 */
function noRemoteFonts(): Plugin {
  return {
    name: 'zd-no-remote-fonts',
    enforce: 'pre',
    transform(code, id) {
      if (!id.includes('/node_modules/vant/') || !id.endsWith('.css')) return null
      return code.replace(/,\s*url\((?:https?:)?\/\/[^)]*\)\s*format\([^)]*\)/g, '')
    },
  }
}

// Mobile H5 app for grid workers and every staff member, served at /m/ by the API process.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/m/',
  plugins: [
    vue(),
    // Vant components are imported on demand (with their styles) from the templates
    Components({ resolvers: [VantResolver()], dts: false, dirs: [] }),
    noRemoteFonts(),
  ],
  resolve: {
    alias: {
      '@': fileURLToPath(new URL('./src', import.meta.url)),
      '@shared': fileURLToPath(new URL('../shared', import.meta.url)),
    },
  },
  build: {
    outDir: fileURLToPath(new URL('../../src/zhengding/web_dist/mobile', import.meta.url)),
    emptyOutDir: true,
    target: 'es2020',
    chunkSizeWarningLimit: 400,
  },
  server: {
    fs: { allow: ['..'] },
    proxy: {
      '/api': apiTarget,
      '/ws': { target: apiTarget, ws: true },
    },
  },
})
