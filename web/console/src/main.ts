import { createApp } from 'vue'
import { installBlurWhenHidden, installPerm } from '@shared/index'
import '@shared/styles/protect.css'
import 'element-plus/theme-chalk/base.css'
import './styles.css'
import App from './App.vue'
import { router } from './router'

const app = createApp(App)
installPerm(app)
app.use(router)
installBlurWhenHidden()
app.mount('#app')
