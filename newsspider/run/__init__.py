"""The application layer: one crawl run in this process (:mod:`~newsspider.run.runner`), recurring crawls
(:mod:`~newsspider.run.schedule`), ``--resume`` (:mod:`~newsspider.run.resume`), and what a crawl costs
(:mod:`~newsspider.run.estimate`, from the start listings' sizes that :mod:`~newsspider.run.measure`
reads). It puts the crawl's components together through the add-on (:mod:`newsspider.crawl.addon`)."""
