// Every section the console has; the navigation shows those whose app the server serves.
import badge from './badge/index.js'
import coach from './coach/index.js'
import fitness from './fitness/index.js'
import queue from './queue/index.js'
import shop from './shop/index.js'

export const SECTIONS = [fitness, coach, queue, shop, badge]
