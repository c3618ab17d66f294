// placeholder until its implementation lands
