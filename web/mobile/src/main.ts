import { createApp } from 'vue'
import { installBlurWhenHidden, installPerm } from '@shared/index'
import '@shared/styles/protect.css'
import './styles.css'
import App from './App.vue'
import { router } from './router'

const app = createApp(App)
installPerm(app)
app.use(router)
installBlurWhenHidden()
app.mount('#app')

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register(`${import.meta.env.BASE_URL}sw.js`, { scope: import.meta.env.BASE_URL }).catch(() => {
      // not installable (plain http on a LAN address): the app works the same without it
    })
  })
}
